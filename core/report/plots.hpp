#pragma once
// The report's "Pipeline plots" section: the pipeline files' top-level `plots` and the stages'
// plot outputs, drawn as `dvc plots show` draws them.

#include <cstddef>
#include <string>
#include <vector>

#include "core/pipeline/pipeline.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::report {

// The section's HTML. Reads DVC's plot definitions: `y` a column, a list of columns or a
// mapping of files to column(s) (then the entry's id names the plot, not a file); `x` a column,
// a list (paired with the y columns in order) or a mapping of files to columns; `title`,
// `x_label`, `y_label`, and `template` (linear, simple, smooth: lines; scatter: dots). A file
// both in the top-level plots and a stage's plot output is drawn once (the top-level options
// first). Each problem met (a file that cannot be read, a column a file lacks, values that are
// not finite, a template cairn does not draw, an entry given twice) is written as a note in the
// section and appended to `notes` as one line "plot ID: ..."; `charts` counts the charts drawn.
[[nodiscard]] std::string plots_section(workspace::Workspace& ws, const std::vector<pipeline::Pipeline>& pipelines,
                                        std::vector<std::string>& notes, std::size_t& charts);

} // namespace cairn::report
