//! The SVG plot of the memory series: throughput and peak RSS against job size.

use crate::mb_per_s;
use crate::memory::ChildResult;

/// Two panels against job size (log scale): EOBs/s, and peak RSS with the
/// 100 MiB limit and 1.2× the smallest job's peak.
pub fn svg_plot(points: &[ChildResult], machine: &str) -> String {
    let xs: Vec<f64> = points.iter().map(|p| p.beneficiaries as f64).collect();
    let rate: Vec<f64> = points
        .iter()
        .map(|p| p.eobs as f64 / (p.wall_ms.max(1) as f64 / 1e3) / 1e3)
        .collect();
    let mbs: Vec<f64> = points
        .iter()
        .map(|p| mb_per_s(p.bytes, p.wall_ms.max(1) as f64 / 1e3))
        .collect();
    let rss: Vec<f64> = points.iter().map(|p| p.peak_kib as f64 / 1024.0).collect();
    let mut svg = String::new();
    svg.push_str(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"400\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"960\" height=\"400\" fill=\"white\"/>\n",
    );
    svg.push_str(&format!(
        "<text x=\"480\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Whole jobs \
         against size (one small EOB per beneficiary, default config): {}</text>\n",
        escape(machine)
    ));
    panel(
        &mut svg,
        (70.0, 50.0),
        "throughput",
        &xs,
        &[
            ("thousand EOBs/s", &rate, "#1f77b4"),
            ("EOB MB/s", &mbs, "#2ca02c"),
        ],
        &[],
    );
    let limit = rss.first().map_or(0.0, |first| first * 1.2);
    panel(
        &mut svg,
        (550.0, 50.0),
        "peak RSS (MiB)",
        &xs,
        &[("peak RSS, MiB", &rss, "#d62728")],
        &[
            (limit, "1.2 × smallest job", "#ff7f0e"),
            (100.0, "100 MiB", "#7f7f7f"),
        ],
    );
    svg.push_str("</svg>\n");
    svg
}

type Series<'a> = (&'a str, &'a [f64], &'a str);

fn panel(
    svg: &mut String,
    (left, top): (f64, f64),
    title: &str,
    xs: &[f64],
    series: &[Series<'_>],
    hlines: &[(f64, &str, &str)],
) {
    let (width, height) = (360.0, 280.0);
    let (x_lo, x_hi) = (
        xs.iter().copied().fold(f64::INFINITY, f64::min).log10(),
        xs.iter().copied().fold(0.0, f64::max).log10(),
    );
    let x_span = (x_hi - x_lo).max(1e-9);
    let y_max = series
        .iter()
        .flat_map(|(_, ys, _)| ys.iter().copied())
        .chain(hlines.iter().map(|(y, _, _)| *y))
        .fold(0.0, f64::max)
        * 1.1;
    let step = nice_step(y_max / 5.0);
    let y_top = (y_max / step).ceil() * step;
    let px = |x: f64| left + (x.log10() - x_lo) / x_span * width;
    let py = |y: f64| top + height - y / y_top * height;
    svg.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\">{}</text>\n",
        left + width / 2.0,
        top - 8.0,
        escape(title)
    ));
    svg.push_str(&format!(
        "<rect x=\"{left}\" y=\"{top}\" width=\"{width}\" height=\"{height}\" \
         fill=\"none\" stroke=\"#333\"/>\n"
    ));
    let mut y = 0.0;
    while y <= y_top + step / 2.0 {
        svg.push_str(&format!(
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            left + width,
            left - 6.0,
            py(y) + 4.0,
            trim_number(y),
            py = py(y)
        ));
        y += step;
    }
    for &x in xs {
        svg.push_str(&format!(
            "<line x1=\"{p:.1}\" x2=\"{p:.1}\" y1=\"{top}\" y2=\"{}\" stroke=\"#eee\"/>\
             <text x=\"{p:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            top + height,
            top + height + 16.0,
            human(x),
            p = px(x)
        ));
    }
    svg.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">beneficiaries (log scale)</text>\n",
        left + width / 2.0,
        top + height + 34.0
    ));
    for (value, label, color) in hlines {
        svg.push_str(&format!(
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" \
             stroke-dasharray=\"6 4\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" \
             fill=\"{color}\">{}</text>\n",
            left + width,
            left + width - 4.0,
            py(*value) - 4.0,
            escape(label),
            y = py(*value)
        ));
    }
    for (i, (label, ys, color)) in series.iter().enumerate() {
        let points: Vec<String> = xs
            .iter()
            .zip(ys.iter())
            .map(|(&x, &y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        svg.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>\n",
            points.join(" ")
        ));
        for (&x, &y) in xs.iter().zip(ys.iter()) {
            svg.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{color}\">\
                 <title>{}: {:.1}</title></circle>\n",
                px(x),
                py(y),
                human(x),
                y
            ));
        }
        svg.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"3\" fill=\"{color}\"/>\
             <text x=\"{}\" y=\"{}\">{}</text>\n",
            left + 10.0,
            top + 14.0 + 16.0 * i as f64,
            left + 26.0,
            top + 18.0 + 16.0 * i as f64,
            escape(label)
        ));
    }
}

fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|&n| fraction <= n)
        .unwrap_or(10.0);
    nice * magnitude
}

fn trim_number(y: f64) -> String {
    if y.fract().abs() < 1e-9 {
        format!("{y:.0}")
    } else {
        format!("{y:.1}")
    }
}

fn human(n: f64) -> String {
    if n >= 1e6 {
        format!("{}M", trim_number(n / 1e6))
    } else if n >= 1e3 {
        format!("{}k", trim_number(n / 1e3))
    } else {
        trim_number(n)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
