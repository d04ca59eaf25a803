//! PNG figures of solutions and fits (feature `plot`).
//!
//! Built on plotters' bitmap backend with a bundled DejaVu Sans font, so no
//! system font or image libraries are needed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use thiserror::Error;

use crate::scalar::Scalar;
use crate::solve::Solution;

/// Why a figure could not be written.
#[derive(Debug, Error)]
pub enum PlotError {
    /// Drawing or encoding failed.
    #[error("plotting failed: {0}")]
    Draw(String),
    /// Nothing to plot (no series, or a series with no finite points).
    #[error("nothing to plot: {0}")]
    Empty(&'static str),
}

fn draw_err<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A line through the points.
    Line,
    /// A dot at each point.
    Points,
}

/// One named set of points.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates.
    pub y: Vec<f64>,
    /// Line or points.
    pub mark: Mark,
    /// Palette index (series sharing a color index share a color, so data and
    /// prediction of one component match).
    pub color: usize,
}

/// A figure: title, axis labels and series.
#[derive(Clone, Debug)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// x-axis label.
    pub xlabel: String,
    /// y-axis label.
    pub ylabel: String,
    /// What to draw.
    pub series: Vec<Series>,
    /// Image size in pixels.
    pub size: (u32, u32),
    /// Fixed axis ranges `(x0, x1, y0, y1)` (animation frames share them);
    /// `None` fits the data.
    pub bounds: Option<(f64, f64, f64, f64)>,
}

impl Chart {
    /// An empty chart with a title and axis labels.
    pub fn new(
        title: impl Into<String>,
        xlabel: impl Into<String>,
        ylabel: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            xlabel: xlabel.into(),
            ylabel: ylabel.into(),
            series: Vec::new(),
            size: (800, 500),
            bounds: None,
        }
    }

    /// With fixed axis ranges.
    pub fn with_bounds(mut self, x: (f64, f64), y: (f64, f64)) -> Self {
        self.bounds = Some((x.0, x.1, y.0, y.1));
        self
    }

    /// Adds a series.
    pub fn with(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Writes the chart as a PNG.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        register_font();
        let root = BitMapBackend::new(path.as_ref(), self.size).into_drawing_area();
        self.draw(&root)?;
        root.present().map_err(draw_err)
    }

    /// Draws the chart on any plotters drawing area (a PNG, a GIF frame, …).
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        register_font();
        let (x0, x1, y0, y1) = self.bounds()?;
        area.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 24))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(&self.xlabel)
            .y_desc(&self.ylabel)
            .label_style(("sans-serif", 15))
            .draw()
            .map_err(draw_err)?;
        for s in &self.series {
            let color = Palette99::pick(s.color).to_rgba();
            let points =
                s.x.iter()
                    .zip(&s.y)
                    .map(|(&x, &y)| (x, y))
                    .filter(|(x, y)| x.is_finite() && y.is_finite());
            let drawn = match s.mark {
                Mark::Line => chart
                    .draw_series(LineSeries::new(points, color.stroke_width(2)))
                    .map_err(draw_err)?,
                Mark::Points => chart
                    .draw_series(points.map(|p| Circle::new(p, 3, color.filled())))
                    .map_err(draw_err)?,
            };
            drawn.label(&s.label).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .draw()
            .map_err(draw_err)?;
        Ok(())
    }

    fn bounds(&self) -> Result<(f64, f64, f64, f64), PlotError> {
        if let Some(b) = self.bounds {
            return Ok(b);
        }
        if self.series.is_empty() {
            return Err(PlotError::Empty("no series"));
        }
        let finite = |v: &[f64]| {
            v.iter()
                .copied()
                .filter(|x| x.is_finite())
                .collect::<Vec<_>>()
        };
        let xs: Vec<f64> = self.series.iter().flat_map(|s| finite(&s.x)).collect();
        let ys: Vec<f64> = self.series.iter().flat_map(|s| finite(&s.y)).collect();
        if xs.is_empty() || ys.is_empty() {
            return Err(PlotError::Empty("no finite points"));
        }
        let range = |v: &[f64], pad: f64| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
            (lo - pad * span, hi + pad * span)
        };
        let (x0, x1) = range(&xs, 0.0);
        let (y0, y1) = range(&ys, 0.05);
        Ok((x0, x1, y0, y1))
    }
}

/// The series of a solution, one line per component. With dense output the
/// curve is sampled from the interpolant at `samples` points (so it is smooth
/// even where steps are long); otherwise it joins the saved points.
pub fn solution_series<T: Scalar>(
    sol: &Solution<T>,
    labels: &[&str],
    samples: usize,
) -> Vec<Series> {
    let n = sol.num_states();
    let (a, b) = sol.span();
    let (a, b) = (a.real(), b.real());
    let (ts, us): (Vec<f64>, Vec<Vec<f64>>) = match (0..samples.max(2))
        .map(|i| a + (b - a) * i as f64 / (samples.max(2) - 1) as f64)
        .map(|t| {
            sol.u_at(t)
                .map(|u| (t, u.iter().map(|x| x.real()).collect::<Vec<_>>()))
        })
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(points) => points.into_iter().unzip(),
        Err(_) => sol
            .iter()
            .map(|(t, u)| (t.real(), u.iter().map(|x| x.real()).collect()))
            .unzip(),
    };
    (0..n)
        .map(|j| Series {
            label: labels
                .get(j)
                .map_or_else(|| format!("u{}", j + 1), |s| s.to_string()),
            x: ts.clone(),
            y: us.iter().map(|u| u[j]).collect(),
            mark: Mark::Line,
            color: j,
        })
        .collect()
}

/// Writes a PNG of every component of `sol` against `t`.
///
/// `labels` name the components (missing names become `u1`, `u2`, …).
pub fn plot_solution<T: Scalar>(
    sol: &Solution<T>,
    path: impl AsRef<Path>,
    title: &str,
    labels: &[&str],
) -> Result<(), PlotError> {
    let mut chart = Chart::new(title, "t", "u(t)");
    chart.series = solution_series(sol, labels, 400);
    chart.save_png(path)
}

/// Writes a PNG of data (points) against a prediction (lines), component by
/// component, in matching colors.
pub fn plot_fit(
    path: impl AsRef<Path>,
    title: &str,
    labels: &[&str],
    data: (&[f64], &[Vec<f64>]),
    prediction: (&[f64], &[Vec<f64>]),
) -> Result<(), PlotError> {
    let mut chart = Chart::new(title, "t", "u(t)");
    let n = data.1.first().map_or(0, Vec::len);
    for j in 0..n {
        let label = labels
            .get(j)
            .map_or_else(|| format!("u{}", j + 1), |s| s.to_string());
        chart.series.push(Series {
            label: format!("{label} data"),
            x: data.0.to_vec(),
            y: data.1.iter().map(|u| u[j]).collect(),
            mark: Mark::Points,
            color: j,
        });
        chart.series.push(Series {
            label: format!("{label} prediction"),
            x: prediction.0.to_vec(),
            y: prediction.1.iter().map(|u| u[j]).collect(),
            mark: Mark::Line,
            color: j,
        });
    }
    chart.save_png(path)
}

/// Writes `frames` as an animated GIF, `delay_ms` apart (each frame's size
/// is the first frame's).
pub fn save_gif(path: impl AsRef<Path>, frames: &[Chart], delay_ms: u32) -> Result<(), PlotError> {
    register_font();
    let first = frames.first().ok_or(PlotError::Empty("no frames"))?;
    let root = BitMapBackend::gif(path.as_ref(), first.size, delay_ms)
        .map_err(draw_err)?
        .into_drawing_area();
    for frame in frames {
        frame.draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    Ok(())
}

/// Writes the training curve: `log10(loss)` against iteration.
pub fn plot_loss(path: impl AsRef<Path>, title: &str, losses: &[f64]) -> Result<(), PlotError> {
    let chart = Chart::new(title, "iteration", "log10(loss)").with(Series {
        label: "loss".into(),
        x: (0..losses.len()).map(|i| i as f64).collect(),
        y: losses.iter().map(|l| l.log10()).collect(),
        mark: Mark::Line,
        color: 0,
    });
    chart.save_png(path)
}

/// Registers the bundled font as plotters' "sans-serif", once.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a known-good TrueType file; failure would be a bug in
        // the bundled crate, and plotting then reports its own font error.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    crate::ode_system! {
        struct Oscillator;
        fn rhs<T>(t; x, v; w) -> (dx, dv) {
            dx = v;
            dv = -w * w * x;
        }
    }

    #[test]
    fn writes_solution_and_fit_pngs() {
        let dir = std::env::temp_dir().join(format!("neurode-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let prob = OdeProblem::new(Oscillator, vec![1.0, 0.0], (0.0, 6.0), vec![1.0]).unwrap();
        let sol = prob.solve(Tsit5, &SolveOptions::default()).unwrap();
        let path = dir.join("solution.png");
        plot_solution(&sol, &path, "oscillator", &["x", "v"]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(bytes.len() > 5_000, "a real picture, not an empty canvas");

        let ts: Vec<f64> = (0..=12).map(|i| i as f64 * 0.5).collect();
        let data: Vec<Vec<f64>> = ts.iter().map(|t| vec![t.cos(), -t.sin()]).collect();
        let pred: Vec<Vec<f64>> = ts.iter().map(|&t| sol.u_at(t).unwrap()).collect();
        let path = dir.join("fit.png");
        plot_fit(&path, "fit", &["x", "v"], (&ts, &data), (&ts, &pred)).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 5_000);

        assert!(matches!(
            Chart::new("t", "x", "y").save_png(dir.join("empty.png")),
            Err(PlotError::Empty(_))
        ));

        // A three-frame GIF with fixed axes, and a loss curve.
        let frames: Vec<Chart> = (1..=3)
            .map(|k| {
                let mut c =
                    Chart::new(format!("frame {k}"), "t", "u").with_bounds((0.0, 6.0), (-1.5, 1.5));
                c.series = solution_series(&sol, &["x", "v"], 50);
                c.series[0].y.iter_mut().for_each(|y| *y *= k as f64 / 3.0);
                c
            })
            .collect();
        let path = dir.join("anim.gif");
        save_gif(&path, &frames, 200).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..3], b"GIF");
        plot_loss(dir.join("loss.png"), "loss", &[10.0, 3.0, 1.0, 0.2]).unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }
}
