#pragma once
// Sorting large arrays of doubles faster than std::sort: what profiles of million-row columns
// spend most of their time on (docs/performance.md, "Profiles and drift").

#include <vector>

namespace cairn::util {

// Sorts `values` ascending, as std::sort with operator< does for values that are not NaN (the
// caller keeps NaN out: it has no place in that order). -0.0 comes before 0.0. Large arrays are
// radix sorted (11 bits at a time, least significant first, a pass skipped when every value has
// the same digit); small ones go to std::sort.
void sort_doubles(std::vector<double>& values);

} // namespace cairn::util
