//! The frame of every console page (title, navigation, search box) and its one stylesheet:
//! system fonts, dark text on light ground (WCAG AA contrast), readable on a phone.

use maud::{html, Markup, DOCTYPE};

pub const STYLESHEET: &str = r#"
:root { --ink: #1b1f24; --muted: #4a5360; --line: #d0d7de; --bad: #a40e26; --warn: #7a4d00; --ok: #116329; --paused: #3d4b5c; }
* { box-sizing: border-box; }
body { font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; margin: 0; }
header { background: #1b1f24; color: #fff; padding: .5rem 1rem; display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; }
header a { color: #fff; font-weight: 600; text-decoration: none; }
header form { display: flex; gap: .25rem; align-items: center; margin-left: auto; }
header label { font-size: .9rem; }
main { padding: 1rem; max-width: 72rem; }
h1 { font-size: 1.4rem; margin: .25rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f3f5f7; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; }
pre { background: #f6f8fa; padding: .75rem; overflow-x: auto; max-height: 40rem; }
.state { display: inline-block; padding: 0 .4rem; border-radius: .25rem; font-weight: 600; border: 1px solid currentColor; }
.state-failing { color: var(--bad); } .state-late { color: var(--bad); } .state-breaks { color: var(--warn); }
.state-paused { color: var(--paused); } .state-ok { color: var(--ok); }
.problem { color: var(--bad); font-weight: 600; }
.muted { color: var(--muted); }
.notice { border-left: 4px solid var(--ok); padding: .5rem .75rem; background: #eef7f0; }
form.action { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin: .5rem 0; padding: .5rem; border: 1px solid var(--line); }
form.action label { display: flex; flex-direction: column; font-size: .9rem; }
input, button { font: inherit; padding: .3rem .5rem; }
button { background: #0b5cad; color: #fff; border: 0; border-radius: .25rem; cursor: pointer; }
.calendar { display: grid; grid-template-columns: repeat(7, minmax(2.5rem, 1fr)); gap: 2px; max-width: 28rem; }
.calendar span { padding: .25rem; text-align: center; font-size: .8rem; border: 1px solid var(--line); }
.calendar .missed { background: #ffebe9; color: var(--bad); font-weight: 700; }
.calendar .received { background: #dafbe1; color: var(--ok); }
.calendar .off { color: var(--muted); }
.calendar .day-state { display: block; font-size: .7rem; }
dl#counts { display: grid; grid-template-columns: max-content max-content; gap: .1rem 1.5rem; }
dl#counts dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
iframe.report { width: 100%; height: 32rem; border: 1px solid var(--line); }
svg text { font-size: 11px; fill: var(--ink); }
@media (max-width: 40rem) {
  main { padding: .5rem; } th, td { padding: .25rem; }
  /* The overview stacks each pipeline's cells on a phone, each named by its column. */
  #pipelines thead { position: absolute; left: -9999px; }
  #pipelines tr, #pipelines td, #pipelines th { display: block; border: 0; }
  #pipelines tr { border-bottom: 2px solid var(--line); padding: .25rem 0; }
  #pipelines td.num { text-align: left; }
  #pipelines td[data-label]::before { content: attr(data-label) ": "; font-weight: 600; }
}
"#;

/// A whole page: `title` and `body` in the console's frame.
pub fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tallyman" }
                link rel="stylesheet" href="/console.css";
            }
            body {
                header {
                    a href="/" { "Tallyman" }
                    form method="get" action="/search" role="search" {
                        label for="q" { "Find a file, checksum, run or order" }
                        input id="q" name="q" type="search" size="18";
                        button type="submit" { "Find" }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// `state` as a badge.
pub fn badge(state: &str) -> Markup {
    let class = match state {
        "failing" | "late" => "state state-failing",
        "breaks open" => "state state-breaks",
        "paused" => "state state-paused",
        _ => "state state-ok",
    };
    html! { span class=(class) { (state) } }
}

/// How long ago `at` (RFC 3339) was, roughly, as of `now`.
pub fn age(at: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(at) else {
        return at.to_string();
    };
    let secs = (now - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s}s ago"),
        s if s < 7200 => format!("{}m ago", s / 60),
        s if s < 172_800 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}

/// A path segment with the characters a URL path cannot carry as they are escaped.
pub fn seg(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
