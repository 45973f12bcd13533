//! The portal page: every service with coverage bars, report links and a history sparkline.
//! Plain server-rendered HTML, no scripts, no network fetches.

use std::fmt::Write as _;

use crate::store::NameState;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn bar(pct: Option<f64>) -> String {
    match pct {
        None => "<span class=na>n/a</span>".to_string(),
        Some(p) => {
            let w = p.clamp(0.0, 100.0);
            let class = if p >= 80.0 {
                "hi"
            } else if p >= 50.0 {
                "mid"
            } else {
                "lo"
            };
            format!(
                "<div class=bar><div class='fill {class}' style='width:{w:.1}%'></div><span>{p:.1}%</span></div>"
            )
        }
    }
}

/// An inline SVG line of line-coverage history, oldest left.
fn sparkline(s: &NameState) -> String {
    let pts: Vec<f64> = s
        .history
        .iter()
        .rev()
        .filter_map(|h| h.line_percent)
        .collect();
    if pts.len() < 2 {
        return String::new();
    }
    let (w, h) = (120.0, 24.0);
    let step = w / (pts.len() - 1) as f64;
    let mut path = String::new();
    for (i, p) in pts.iter().enumerate() {
        let x = i as f64 * step;
        let y = h - (p.clamp(0.0, 100.0) / 100.0) * h;
        let _ = write!(path, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" });
    }
    format!(
        "<svg class=spark width=120 height=24 viewBox='0 0 120 24'><path d='{path}' fill=none stroke='#3b82f6' stroke-width=1.5/></svg>"
    )
}

/// Renders the portal.
pub fn render(states: &[NameState]) -> String {
    let mut rows = String::new();
    for s in states {
        let n = esc(&s.parts.name);
        let base = format!("/api/v1/services/{n}");
        let online = s.addresses.values().filter(|a| a.state == "online").count();
        let _ = write!(
            rows,
            "<tr><td><a href='{base}'>{n}</a><div class=sub>{svc} · {branch} · {commit}</div></td>\
             <td>{online}/{total}</td><td>{line}</td><td>{diff}</td><td>{spark}</td>\
             <td class=links><a href='{base}/report?format=html'>html</a> <a href='{base}/report?format=func'>func</a> \
             <a href='{base}/report?format=json'>json</a> <a href='{base}/diff?format=html'>diff</a> \
             <a href='{base}/diff?format=markdown'>md</a> <a href='{base}/profile'>profile</a></td>\
             <td class=sub>{last}</td></tr>",
            svc = esc(&s.parts.service),
            branch = esc(&s.parts.branch),
            commit = esc(&s.parts.commit),
            total = s.addresses.len(),
            line = bar(s.line_percent),
            diff = bar(s.diff_percent),
            spark = sparkline(s),
            last = s
                .last_change
                .map(|t| t.to_string())
                .unwrap_or_else(|| "never".into()),
        );
    }
    if states.is_empty() {
        rows.push_str("<tr><td colspan=7>No services yet: waiting for registrations on the goc server.</td></tr>");
    }
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>goc-adapter</title><style>\
         body{{font:14px system-ui,sans-serif;margin:24px;color:#111}}h1{{font-size:20px}}\
         table{{border-collapse:collapse;width:100%}}td,th{{padding:6px 10px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:middle}}\
         .sub{{color:#6b7280;font-size:12px}}.bar{{position:relative;width:140px;height:18px;background:#f3f4f6;border-radius:3px}}\
         .fill{{height:100%;border-radius:3px}}.hi{{background:#86efac}}.mid{{background:#fde68a}}.lo{{background:#fca5a5}}\
         .bar span{{position:absolute;left:6px;top:1px;font-size:12px}}.na{{color:#9ca3af}}.links a{{margin-right:6px}}\
         </style></head><body><h1>goc-adapter</h1><table><thead><tr><th>Service</th><th>Replicas</th><th>Line</th>\
         <th>Diff</th><th>History</th><th>Reports</th><th>Last change</th></tr></thead><tbody>{rows}</tbody></table>\
         <p class=sub><a href='/api/v1/services'>API</a> · <a href='/metrics'>metrics</a> · <a href='/api/openapi.json'>OpenAPI</a></p>\
         </body></html>"
    )
}
