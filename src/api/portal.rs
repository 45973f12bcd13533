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

/// An inline SVG line of line-coverage history, oldest left, scaled to its own range (changes
/// of a few points would be flat on a 0-100 scale), with the newest point marked and every
/// value in the tooltip.
fn sparkline(s: &NameState) -> String {
    let pts: Vec<f64> = s
        .history
        .iter()
        .rev()
        .filter_map(|h| h.line_percent)
        .map(|p| p.clamp(0.0, 100.0))
        .collect();
    if pts.len() < 2 {
        return String::new();
    }
    let (w, h, pad) = (100.0, 24.0, 3.0);
    let lo = pts.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = pts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // At least one percentage point of range, so noise stays small and a flat history is a
    // flat line in the middle.
    let span = (hi - lo).max(1.0);
    let base = (hi + lo - span) / 2.0;
    let step = w / (pts.len() - 1) as f64;
    let at = |i: usize, p: f64| {
        (
            i as f64 * step,
            pad + (1.0 - (p - base) / span) * (h - 2.0 * pad),
        )
    };
    let mut path = String::new();
    for (i, p) in pts.iter().enumerate() {
        let (x, y) = at(i, *p);
        let _ = write!(path, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" });
    }
    let (lx, ly) = at(pts.len() - 1, pts[pts.len() - 1]);
    let values: Vec<String> = pts.iter().map(|p| format!("{p:.1}%")).collect();
    format!(
        "<svg class=spark width=104 height=24 viewBox='-2 0 104 24'><title>line coverage, oldest first: {}</title>\
         <path d='{path}' fill='none' stroke='#3b82f6' stroke-width='1.5'/>\
         <circle cx='{lx:.1}' cy='{ly:.1}' r='2.5' fill='#1d4ed8'/></svg>",
        values.join(" \u{2192} ")
    )
}

/// A time to the second, in UTC, on two lines.
fn when(t: Option<jiff::Timestamp>) -> String {
    match t {
        Some(t) => t.strftime("%Y-%m-%d<br>%H:%M:%S UTC").to_string(),
        None => "never".into(),
    }
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
             <a href='{base}/report?format=json'>json</a><br><a href='{base}/diff?format=html'>diff</a> \
             <a href='{base}/diff?format=markdown'>md</a> <a href='{base}/profile'>profile</a></td>\
             <td class='sub when'>{last}</td></tr>",
            svc = esc(&s.parts.service),
            branch = esc(&s.parts.branch),
            commit = esc(&s.parts.commit),
            total = s.addresses.len(),
            line = bar(s.line_percent),
            diff = bar(s.diff_percent),
            spark = sparkline(s),
            last = when(s.last_change),
        );
    }
    if states.is_empty() {
        rows.push_str("<tr><td colspan=7>No services yet: waiting for registrations on the goc server.</td></tr>");
    }
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>goc-adapter</title><style>\
         body{{font:14px system-ui,sans-serif;margin:24px;color:#111}}h1{{font-size:20px}}\
         table{{border-collapse:collapse;width:100%}}td,th{{padding:6px 10px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:middle}}\
         .sub{{color:#6b7280;font-size:12px}}.bar{{position:relative;width:120px;height:18px;background:#f3f4f6;border-radius:3px}}\
         .fill{{height:100%;border-radius:3px}}.hi{{background:#86efac}}.mid{{background:#fde68a}}.lo{{background:#fca5a5}}\
         .bar span{{position:absolute;left:6px;top:1px;font-size:12px}}.na{{color:#9ca3af}}.links a{{margin-right:6px}}.links,.when{{white-space:nowrap}}\
         </style></head><body><h1>goc-adapter</h1><table><thead><tr><th>Service</th><th>Replicas</th><th>Line</th>\
         <th>Diff</th><th>History</th><th>Reports</th><th>Last change</th></tr></thead><tbody>{rows}</tbody></table>\
         <p class=sub><a href='/api/v1/services'>API</a> · <a href='/metrics'>metrics</a> · <a href='/api/openapi.json'>OpenAPI</a></p>\
         </body></html>"
    )
}
