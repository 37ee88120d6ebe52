#include "core/report/page.hpp"

#include "core/plot/chart.hpp"

namespace cairn::report {
namespace {

constexpr const char* k_style = R"css(
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1400px;padding:0 20px 40px;color:#222;background:#fafafa}
header{border-bottom:2px solid #ddd;margin-bottom:10px}
h1{font-size:22px;margin:18px 0 2px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #e4e4e4}h3{font-size:15px}
.sub,.hint{color:#666;font-size:12px}
nav a{margin-right:12px;color:#1f5fa0;text-decoration:none}
.scroll{overflow-x:auto;max-height:520px;overflow-y:auto;border:1px solid #ddd;background:#fff}
table{border-collapse:collapse;font-size:13px;background:#fff}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
thead th{position:sticky;top:0;background:#f0f0f0;cursor:pointer;user-select:none}
th.nosort{cursor:default}th.asc:after{content:" \25B2"}th.desc:after{content:" \25BC"}
td small{color:#888;margin-left:4px}.absent{color:#bbb}
.st-finished,.good{color:#217a21}.st-failed,.st-crashed,.bad{color:#b22222}.st-running,.warn{color:#b36b00}
.charts,.hists{display:flex;flex-wrap:wrap;gap:14px}
figure{margin:0;background:#fff;border:1px solid #e4e4e4;padding:4px}
figcaption{font-size:12px;color:#555;padding:2px 4px}
svg .off{display:none}svg path.hot{stroke-width:3.5}
#tip{position:absolute;pointer-events:none;background:#222;color:#fff;font-size:12px;padding:3px 6px;border-radius:3px;display:none;white-space:nowrap}
.alias{background:#e8eefc;border-radius:3px;padding:0 4px;margin-right:3px}
tr.deprecated td{color:#999;text-decoration:line-through}
.swatch{display:inline-block;width:12px;height:10px;margin-left:8px}.swatch.ref{background:#1f77b4}.swatch.cur{background:#ff7f0e}
.note{color:#b36b00}#js-errors{color:#b22222}
)css";

constexpr const char* k_script = R"js(
(function () {
  var errors = document.getElementById('js-errors');
  window.onerror = function (message, source, line) {
    errors.hidden = false;
    errors.textContent += message + ' (line ' + line + ')\n';
  };
  var table = document.getElementById('runs-table');
  var heads = table ? table.tHead.rows[0].cells : [];
  function value(row, i) { var c = row.cells[i]; return c ? c.getAttribute('data-v') : null; }
  function sortBy(key, desc) {
    var index = -1;
    for (var i = 0; i < heads.length; i++) {
      if (heads[i].getAttribute('data-key') === key) index = i;
      heads[i].classList.remove('asc', 'desc');
    }
    if (index < 0) return;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a, index), y = value(b, index);
      var ex = x === null || x === '', ey = y === null || y === '';
      if (ex || ey) return ex === ey ? 0 : ex ? 1 : -1; // runs without the value go last
      var nx = Number(x), ny = Number(y), r;
      if (!isNaN(nx) && !isNaN(ny)) r = nx - ny; else r = x < y ? -1 : x > y ? 1 : 0;
      return desc ? -r : r;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    heads[index].classList.add(desc ? 'desc' : 'asc');
    table.setAttribute('data-sorted', (desc ? '-' : '') + key);
  }
  for (var i = 0; i < heads.length; i++) {
    heads[i].addEventListener('click', function () {
      var key = this.getAttribute('data-key');
      if (key) sortBy(key, this.classList.contains('asc'));
    });
  }
  var filter = document.getElementById('filter');
  function applyFilter() {
    var q = filter.value.toLowerCase();
    var rows = table.tBodies[0].rows;
    for (var i = 0; i < rows.length; i++)
      rows[i].hidden = q !== '' && rows[i].textContent.toLowerCase().indexOf(q) < 0;
  }
  if (filter) filter.addEventListener('input', applyFilter);
  var marks = document.querySelectorAll('svg [data-run]');
  document.querySelectorAll('input.toggle').forEach(function (box) {
    box.addEventListener('change', function () {
      var run = box.closest('tr').getAttribute('data-run');
      for (var i = 0; i < marks.length; i++)
        if (marks[i].getAttribute('data-run') === run) marks[i].classList.toggle('off', !box.checked);
    });
  });
  var tip = document.getElementById('tip');
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var box = svg.getAttribute('data-box').split(' ').map(Number);
    var xr = svg.getAttribute('data-x').split(' ').map(Number);
    var yr = svg.getAttribute('data-y').split(' ').map(Number);
    var log = svg.getAttribute('data-log') === '1';
    var hot = null;
    svg.addEventListener('mousemove', function (e) {
      var t = e.target;
      if (!t.classList || !t.classList.contains('series')) { tip.style.display = 'none'; if (hot) hot.classList.remove('hot'); hot = null; return; }
      if (hot && hot !== t) hot.classList.remove('hot');
      hot = t; t.classList.add('hot');
      var p = svg.createSVGPoint(); p.x = e.clientX; p.y = e.clientY;
      p = p.matrixTransform(svg.getScreenCTM().inverse());
      var step = xr[0] + (p.x - box[0]) / (box[2] - box[0]) * (xr[1] - xr[0]);
      var v = yr[0] + (box[3] - p.y) / (box[3] - box[1]) * (yr[1] - yr[0]);
      if (log) v = Math.pow(10, v);
      tip.textContent = t.getAttribute('data-label') + ': step ' + Math.round(step) + ', value ' + v.toPrecision(4);
      tip.style.left = (e.pageX + 12) + 'px'; tip.style.top = (e.pageY + 12) + 'px'; tip.style.display = 'block';
    });
    svg.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  });
  // #sort=KEY, #sort=-KEY, #filter=TEXT (joined with &): the state a link can carry.
  location.hash.replace(/^#/, '').split('&').forEach(function (part) {
    var kv = part.split('='), k = kv[0], v = decodeURIComponent(kv.slice(1).join('='));
    if (k === 'sort' && v) sortBy(v.replace(/^-/, ''), v.charAt(0) === '-');
    if (k === 'filter' && filter) { filter.value = v; applyFilter(); }
  });
  document.body.setAttribute('data-js', 'ok');
})();
)js";

} // namespace

std::string page(const std::string& title, const std::string& subtitle, const std::string& body) {
    std::string out;
    out.reserve(body.size() + 16384);
    out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
    out += plot::xml_escape(title);
    out += "</title>\n<style>";
    out += k_style;
    out += "</style></head>\n<body data-js=\"off\">\n<header><h1>";
    out += plot::xml_escape(title);
    out += "</h1><p class=\"sub\">";
    out += plot::xml_escape(subtitle);
    out += "</p><nav><a href=\"#runs\">Runs</a><a href=\"#charts\">Metrics</a><a href=\"#parallel\">Parameters</a>"
           "<a href=\"#pipelines\">Pipelines</a><a href=\"#plots\">Plots</a><a href=\"#lineage\">Lineage</a><a href=\"#reruns\">Re-runs</a>"
           "<a href=\"#registry\">Registry</a><a href=\"#drift\">Drift</a></nav></header>\n"
           "<pre id=\"js-errors\" hidden></pre><div id=\"tip\"></div>\n";
    out += body;
    out += "<footer class=\"hint\">Written by cairn report: one file, no network. Charts are SVG drawn by cairn.</footer>\n<script>";
    out += k_script;
    out += "</script>\n</body></html>\n";
    return out;
}

} // namespace cairn::report
