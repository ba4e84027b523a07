//! The pipeline page's chart, drawn here as SVG: rows, issues and breaks per business date, one
//! band each scaled to its own largest day (the three differ by orders of magnitude). No script,
//! no external fetch; a table of the same numbers sits beside it for screen readers.

use maud::{html, Markup};

/// One business date's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    pub date: String,
    pub rows: i64,
    pub issues: i64,
    pub breaks: i64,
}

/// One band: its name, its colour, and the day's number it draws.
type Band = (&'static str, &'static str, fn(&Day) -> i64);

const BAND: f64 = 60.0;
const LABEL: f64 = 70.0;

/// Three bands of bars, oldest date left.
pub fn chart(days: &[Day]) -> Markup {
    // Wide enough for the first and last dates side by side, however few days there are.
    let width = (LABEL + (days.len().max(1) as f64) * 14.0 + 10.0).max(320.0);
    let height = 3.0 * (BAND + 20.0) + 20.0;
    let bands: [Band; 3] = [
        ("rows", "#0b5cad", |d| d.rows),
        ("issues", "#a40e26", |d| d.issues),
        ("breaks", "#7a4d00", |d| d.breaks),
    ];
    let first = days.first().map_or("", |d| d.date.as_str());
    let last = days.last().map_or("", |d| d.date.as_str());
    html! {
        svg xmlns="http://www.w3.org/2000/svg" role="img" width=(width) height=(height)
            viewBox={ "0 0 " (width) " " (height) }
            aria-label={ "Rows, issues and breaks per business date from " (first) " to " (last) } {
            @for (i, (name, colour, value)) in bands.iter().enumerate() {
                @let top = 10.0 + i as f64 * (BAND + 20.0);
                @let max = days.iter().map(value).max().unwrap_or(0).max(1);
                text x="0" y=(top + 12.0) { (name) }
                text x="0" y=(top + 26.0) { "max " (max) }
                line x1=(LABEL) y1=(top + BAND) x2=(width - 5.0) y2=(top + BAND) stroke="#888" {}
                @for (j, d) in days.iter().enumerate() {
                    @let h = (value(d) as f64 / max as f64) * BAND;
                    rect x=(LABEL + j as f64 * 14.0) y=(top + BAND - h) width="10" height=(h) fill=(colour) {
                        title { (d.date) ": " (value(d)) " " (name) }
                    }
                }
            }
            text x=(LABEL) y=(height - 4.0) { (first) }
            @if days.len() > 1 {
                text x=(width - 5.0) y=(height - 4.0) text-anchor="end" { (last) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_each_band_and_escape_nothing_unsafe() {
        let days = vec![
            Day {
                date: "2026-01-01".into(),
                rows: 100,
                issues: 0,
                breaks: 2,
            },
            Day {
                date: "2026-01-02".into(),
                rows: 50,
                issues: 4,
                breaks: 1,
            },
        ];
        let svg = chart(&days).into_string();
        assert_eq!(svg.matches("<rect").count(), 6);
        assert!(
            svg.contains("height=\"60\""),
            "the largest day fills its band: {svg}"
        );
        assert!(
            svg.contains("height=\"30\""),
            "half the rows, half the band"
        );
        assert!(svg.contains("2026-01-02: 4 issues"));
        assert!(chart(&[]).into_string().contains("<svg"));
    }
}
