#include "emx/oracle.hpp"

namespace emx {

OraclePlan plan_oracle(const Task& task, const OracleOptions& options) {
  OraclePlan p;
  p.reason = "oracle not implemented yet";
  return p;
}

}  // namespace emx
