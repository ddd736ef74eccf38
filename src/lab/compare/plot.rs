//! `--plot FILE.svg`: the rows as two charts, drawn with `plotters`: successful requests per
//! second above, p99 latency below, both against the pool's workers, one line per connection
//! count and engine (or server). A chart whose lines lie two decades apart has a logarithmic
//! y axis.
//!
//! Single mode has no workers and is another server, not a pool of one: it is left out of the
//! lines rather than drawn at a made-up x. A row with failures is left out too: its rate is not
//! a rate of serving (the table and the exports keep it, marked `FAILED`).

use super::{Row, Setup, conns};
use crate::server::Engine;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

/// What a chart draws of a point `(workers, ok req/s, p99 ms)`.
type Value = fn(&(usize, f64, f64)) -> f64;

/// One line of the charts: the rows of one connection count on one engine, by workers.
pub struct Series {
    /// `10 conns, handoff`.
    pub name: String,
    /// `(workers, ok req/s, p99 ms)`, by workers.
    pub points: Vec<(usize, f64, f64)>,
}

/// The lines to draw, in the order their rows came: single mode and failed rows left out, and
/// a line with no point is no line.
pub fn series(rows: &[Row]) -> Vec<Series> {
    let mut keys: Vec<(usize, Engine, Option<&str>)> = Vec::new();
    let mut lines: Vec<Series> = Vec::new();
    for row in rows.iter().filter(|r| !r.failed()) {
        let Setup::Threads(n) = row.config.setup else { continue };
        let key = (row.report.connections, row.config.engine, row.server.as_deref());
        let i = match keys.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                keys.push(key);
                // An external server is named by its command; the engine is ours, not its.
                let name = format!("{}, {}", conns(key.0), key.2.unwrap_or(key.1.name()));
                lines.push(Series { name, points: Vec::new() });
                keys.len() - 1
            }
        };
        let p99 = row.report.latency.map_or(f64::NAN, |l| l.p99_ms);
        lines[i].points.push((n, row.ok_per_sec(), p99));
    }
    for line in &mut lines {
        line.points.sort_by_key(|p| p.0);
    }
    lines
}

/// The SVG document: one `<polyline>` per series in each of the two charts.
pub fn svg(rows: &[Row]) -> Result<String, String> {
    let lines = series(rows);
    let mut buffer = String::new();
    {
        let root = SVGBackend::with_string(&mut buffer, (800, 800)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (top, bottom) = root.split_vertically(400);
        let charts: [(_, _, Value); 2] = [(&top, "ok req/s", |p| p.1), (&bottom, "p99 ms", |p| p.2)];
        for (area, what, value) in charts {
            let values: Vec<f64> =
                lines.iter().flat_map(|l| &l.points).map(value).filter(|v| v.is_finite()).collect();
            let highest = values.iter().copied().fold(0.0, f64::max).max(1e-9);
            let lowest = values.iter().copied().filter(|&v| v > 0.0).fold(highest, f64::min);
            // Lines two decades apart (Python's servers beside ours on `cpu`) share a chart only
            // on a logarithmic axis: on a linear one the lower lines lie flat on zero.
            if highest > 100.0 * lowest {
                let y = (lowest / 1.5..highest * 1.5).log_scale();
                chart(area, &format!("{what} (log scale)"), &lines, value, y)?;
            } else {
                chart(area, what, &lines, value, 0.0..highest * 1.1)?;
            }
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buffer)
}

/// One chart: `what` against the workers, one line per series, on the y axis `y`.
fn chart<Y>(
    area: &DrawingArea<SVGBackend, Shift>,
    what: &str,
    lines: &[Series],
    value: Value,
    y: Y,
) -> Result<(), String>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let most_workers = lines.iter().flat_map(|l| &l.points).map(|p| p.0).max().unwrap_or(1);
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{what} against workers"), ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0usize..most_workers + 1, y)
        .map_err(|e| e.to_string())?;
    // Workers are threads, except for gunicorn-processes, whose workers are processes.
    let x = "workers (threads; processes for gunicorn-processes)";
    chart.configure_mesh().x_desc(x).y_desc(what).draw().map_err(|e| e.to_string())?;
    for (i, line) in lines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = line.points.iter().filter(|p| value(p) > 0.0).map(|p| (p.0, value(p)));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(line.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 16, y + 4)], color.filled()));
    }
    if !lines.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
