//! The page's inline style sheet and its few lines of script (sorting the
//! step table by duration; nothing is fetched).

pub(super) const CSS: &str = r#"
:root{--ok:#2e9d5b;--bad:#d64545;--wait:#e0a526;--cached:#7b61c9;--skip:#9aa0a6;--run:#3b82f6;--pend:#c7cbd1;--comp:#b06a2b;--crit:#e07b00;--fg:#1f2328;--dim:#667085;--line:#e4e7ec}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0 auto;padding:16px 24px;max-width:1260px;background:#fff}
h1{font-size:22px;margin:4px 0 10px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
dl#meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0}
dt{color:var(--dim)}dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse}
#inputs{margin-top:10px}#inputs caption{text-align:left;color:var(--dim);padding:2px 0}
#inputs th{text-align:left;font-weight:500;padding:1px 12px 1px 0;vertical-align:top}
#steps{width:100%}#steps th,#steps td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
#steps th{background:#f6f8fa;position:sticky;top:0}#steps .num{text-align:right;white-space:nowrap}
#steps th.sort{cursor:pointer;user-select:none}#steps tr.first{background:#fff1f1}
.badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;color:#fff;background:var(--pend)}
.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}.badge.wait{background:var(--wait)}.badge.cached{background:var(--cached)}
.badge.skip{background:var(--skip)}.badge.run{background:var(--run)}.badge.comp{background:var(--comp)}
pre.log{background:#0d1117;color:#e6edf3;padding:8px 10px;border-radius:6px;overflow:auto;max-height:420px;white-space:pre-wrap}
.err{color:var(--bad);white-space:pre-wrap}.note{color:var(--dim);font-style:italic}
.scroll{overflow:auto}
svg text{font-size:12px;fill:var(--fg)}
#gantt .bg{fill:transparent}#gantt .row:hover .bg{fill:#f2f4f7}#gantt .crit .bg{fill:#fff6e8}
#gantt .tick{stroke:var(--line)}#gantt .axis{fill:var(--dim);font-size:11px}
#gantt .lbl{font-family:ui-monospace,Menlo,Consolas,monospace}#gantt .dur{text-anchor:end;fill:var(--dim)}
#gantt .a.ok{fill:var(--ok)}#gantt .a.bad{fill:var(--bad)}#gantt .a.wait{fill:var(--wait);opacity:.75}
#gantt .delay{stroke:var(--bad);stroke-dasharray:3 3;stroke-width:1.5}
.m.ok{fill:var(--ok)}.m.bad{fill:var(--bad)}.m.skip,.m.pend{fill:var(--skip)}.m.cached{fill:var(--cached)}.m.run{fill:var(--run)}.m.wait{fill:var(--wait)}
.critm{fill:var(--crit);color:var(--crit);font-weight:700}
.legend{color:var(--dim);font-size:12px}.sw{display:inline-block;width:18px;height:9px;margin:0 4px 0 10px;border-radius:2px;background:var(--ok)}
.sw.bad{background:var(--bad)}.sw.wait{background:var(--wait)}.sw.delay{height:0;border-top:2px dashed var(--bad);border-radius:0}
#dag .e{fill:none;stroke:#98a2b3;stroke-width:1}#dag .e.crit{stroke:var(--crit);stroke-width:2.5}
#dag .node rect{fill:#f6f8fa;stroke:var(--pend);stroke-width:1.5}#dag .node text{text-anchor:middle;font-size:11px}
#dag .node.ok rect{stroke:var(--ok);fill:#eaf6ef}#dag .node.bad rect{stroke:var(--bad);fill:#fdecec}#dag .node.wait rect{stroke:var(--wait)}
#dag .node.cached rect{stroke:var(--cached)}#dag .node.skip rect{stroke:var(--skip);stroke-dasharray:3 2}#dag .node.run rect{stroke:var(--run)}
#dag .node.crit rect{stroke:var(--crit);stroke-width:3}#dag .node.more rect{fill:#fff;stroke-dasharray:4 3}
footer{margin-top:28px;color:var(--dim);font-size:12px}
"#;

/// Sorts the step table by duration (click the header again to reverse;
/// a third time restores the first-failure-first order), and marks the
/// page as scripted.
pub(super) const JS: &str = r#"
(function(){
  var t=document.getElementById('steps');
  if(t){
    var th=t.querySelector('th[data-sort]'),b=t.tBodies[0],dir=0;
    var orig=Array.prototype.slice.call(b.rows);
    th.addEventListener('click',function(){
      dir=(dir+1)%3;
      var rows=orig.slice();
      if(dir){rows.sort(function(x,y){var d=(+y.dataset.ms)-(+x.dataset.ms);return dir===1?d:-d;});}
      rows.forEach(function(r){b.appendChild(r);});
      th.dataset.dir=['','desc','asc'][dir];
    });
  }
  var n=document.querySelectorAll('#gantt .row').length,m=document.querySelectorAll('#dag .node').length;
  document.body.dataset.js='ready';
  document.body.dataset.rows=n;
  document.body.dataset.nodes=m;
})();
"#;
