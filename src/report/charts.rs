//! Inline SVG charts: the geometry is computed here, the markup is written by templates
//! (`templates/report/*.svg`), which escape every label (labels come from input files).

use askama::Template;

use crate::text::thousands;

/// Width of every chart, in SVG units (CSS scales it down on narrow screens).
const WIDTH: u32 = 760;
/// Height of a bar row.
const ROW: u32 = 22;
/// Width of the label column of bar charts.
const LABEL: u32 = 300;
/// Room right of the longest bar for its figure.
const FIGURE: u32 = 90;
/// Longest label drawn in full; longer ones are cut, the whole label in a tooltip.
const LABEL_CHARS: usize = 44;

/// One coloured piece of a bar.
#[derive(Clone, Debug)]
pub struct Segment {
    /// Left edge.
    pub x: f64,
    /// Width (at least a hairline when the count is not zero).
    pub w: f64,
    /// CSS class: `attested`, `rejected`, `neutral`, `lost`, `gained`.
    pub class: &'static str,
}

/// One row of a bar chart.
#[derive(Clone, Debug)]
pub struct Bar {
    /// The label as drawn.
    pub label: String,
    /// The whole label and the figures, for the tooltip.
    pub title: String,
    /// Top of the row.
    pub y: u32,
    /// The pieces of the bar, left to right.
    pub segments: Vec<Segment>,
    /// Where the figure goes.
    pub figure_x: f64,
    /// The figure drawn right of the bar.
    pub figure: String,
}

/// A horizontal bar chart, one row per item.
#[derive(Template, Clone, Debug)]
#[template(path = "report/bars.svg")]
pub struct Bars {
    /// What the chart shows (its accessible name).
    pub title: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Right edge of the labels.
    pub label_x: u32,
    /// Height of a row.
    pub row: u32,
    /// The rows.
    pub bars: Vec<Bar>,
}

fn cut(label: &str) -> String {
    match label.char_indices().nth(LABEL_CHARS) {
        None => label.to_owned(),
        Some((at, _)) => format!("{}…", &label[..at]),
    }
}

/// A bar chart of `(label, pieces)` rows, each piece a count and its CSS class; bars are to
/// one scale (the largest row's total spans the plot).
pub fn bars(title: &str, rows: &[(String, Vec<(u64, &'static str)>)]) -> Bars {
    let max = rows
        .iter()
        .map(|(_, pieces)| pieces.iter().map(|(n, _)| n).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let plot = f64::from(WIDTH - LABEL - FIGURE - 8);
    let bars = rows
        .iter()
        .enumerate()
        .map(|(i, (label, pieces))| {
            let mut x = f64::from(LABEL + 8);
            let mut segments = Vec::new();
            for &(n, class) in pieces {
                if n == 0 {
                    continue;
                }
                let w = (n as f64 / max as f64 * plot).max(1.5);
                segments.push(Segment { x, w, class });
                x += w;
            }
            let figures: Vec<String> = pieces.iter().map(|(n, _)| thousands(*n)).collect();
            let figure = if pieces.len() == 1 {
                figures.concat()
            } else {
                figures.join(" / ")
            };
            Bar {
                label: cut(label),
                title: format!("{label}: {figure}"),
                y: i as u32 * ROW,
                segments,
                figure_x: x + 6.0,
                figure,
            }
        })
        .collect::<Vec<_>>();
    Bars {
        title: title.to_owned(),
        width: WIDTH,
        height: (bars.len() as u32).max(1) * ROW,
        label_x: LABEL,
        row: ROW,
        bars,
    }
}

/// One column of a column chart.
#[derive(Clone, Debug)]
pub struct Column {
    /// Left edge.
    pub x: f64,
    /// Width.
    pub w: f64,
    /// Top of the rejected part.
    pub y: f64,
    /// Height of the rejected part.
    pub h: f64,
    /// The tooltip: lines and figures.
    pub title: String,
}

/// The rejected fraction along the input: one column per slice of lines.
#[derive(Template, Clone, Debug)]
#[template(path = "report/columns.svg")]
pub struct Columns {
    /// What the chart shows.
    pub title: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Left edge of the plot.
    pub left: u32,
    /// Top of the plot.
    pub top: u32,
    /// Height of the plot.
    pub plot_height: u32,
    /// Right edge of the plot.
    pub right: u32,
    /// The columns.
    pub columns: Vec<Column>,
    /// Label under the first column.
    pub first_label: String,
    /// Label under the last column.
    pub last_label: String,
}

/// A slice of the input: its first and last line, records and rejections in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    /// First line of the slice.
    pub first_line: u64,
    /// Last line of the slice.
    pub last_line: u64,
    /// Records in it.
    pub records: u64,
    /// Rejected records in it.
    pub rejected: u64,
}

/// A column chart of the rejected fraction of each slice (0 to 100 %).
pub fn columns(title: &str, slices: &[Slice]) -> Columns {
    let (left, right, top, plot_height) = (44u32, WIDTH - 8, 8u32, 160u32);
    let plot = f64::from(right - left);
    let w = plot / slices.len().max(1) as f64;
    let columns = slices
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let fraction = if s.records == 0 {
                0.0
            } else {
                s.rejected as f64 / s.records as f64
            };
            let h = fraction * f64::from(plot_height);
            Column {
                x: f64::from(left) + i as f64 * w,
                w: (w - 1.0).max(0.5),
                y: f64::from(top + plot_height) - h,
                h,
                title: format!(
                    "lines {}–{}: {} of {} rejected ({:.1} %)",
                    thousands(s.first_line),
                    thousands(s.last_line),
                    thousands(s.rejected),
                    thousands(s.records),
                    fraction * 100.0
                ),
            }
        })
        .collect();
    Columns {
        title: title.to_owned(),
        width: WIDTH,
        height: top + plot_height + 24,
        left,
        top,
        plot_height,
        right,
        columns,
        first_label: slices
            .first()
            .map_or_else(String::new, |s| format!("line {}", thousands(s.first_line))),
        last_label: slices
            .last()
            .map_or_else(String::new, |s| format!("line {}", thousands(s.last_line))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_row_and_escape_labels() {
        let chart = bars(
            "t",
            &[
                ("a<b>&\"".into(), vec![(10, "attested"), (30, "rejected")]),
                ("c".into(), vec![(20, "rejected")]),
                ("none".into(), vec![(0, "rejected")]),
            ],
        );
        let plot = f64::from(WIDTH - LABEL - FIGURE - 8);
        let first: f64 = chart.bars[0].segments.iter().map(|s| s.w).sum();
        assert!((first - plot).abs() < 1e-9);
        assert!((chart.bars[1].segments[0].w - plot / 2.0).abs() < 1e-9);
        assert!(chart.bars[2].segments.is_empty());
        assert_eq!(chart.bars[0].figure, "10 / 30");
        let svg = chart.render().unwrap();
        assert!(svg.contains("a&#60;b&#62;&#38;&#34;"), "{svg}");
        assert!(!svg.contains("a<b>"), "{svg}");
    }

    #[test]
    fn columns_show_fractions() {
        let slices = [
            Slice {
                first_line: 1,
                last_line: 10,
                records: 10,
                rejected: 5,
            },
            Slice {
                first_line: 11,
                last_line: 20,
                records: 10,
                rejected: 0,
            },
        ];
        let chart = columns("t", &slices);
        assert!((chart.columns[0].h - 80.0).abs() < 1e-9);
        assert_eq!(chart.columns[1].h, 0.0);
        assert_eq!(chart.last_label, "line 20");
        assert!(chart.render().unwrap().starts_with("<svg"));
    }
}
