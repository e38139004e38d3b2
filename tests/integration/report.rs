//! The HTML reports of `verify --report` and `diff --report`: self-contained, every input string
//! escaped, their figures equal to the JSON; and the report of the demo's rotation diff opened
//! in a real browser (headless Chromium), its rendered totals and charts checked.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{json_lines, output, run, verify_cmd};

const NOW: &str = "2026-11-29T00:00:00Z";

fn demo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/demo")
        .join(path)
}

/// The demo's rotation story in `dir`: the bundled fleet verified with its config and with the
/// rotated one (each with a report and a summary), then diffed (`--json` and `--report`).
/// Returns the diff's JSON lines.
fn rotation(dir: &Path) -> Vec<Value> {
    for (name, config) in [("before", "fleet.toml"), ("after", "rotated/fleet.toml")] {
        let out = output(verify_cmd(
            &demo(config),
            &demo("evidence.jsonl"),
            &[
                "--now",
                NOW,
                "--no-progress",
                "--output",
                dir.join(format!("{name}.jsonl")).to_str().unwrap(),
                "--summary",
                dir.join(format!("{name}.summary.json")).to_str().unwrap(),
                "--report",
                dir.join(format!("{name}.html")).to_str().unwrap(),
            ],
        ));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (b, a) = (dir.join("before.jsonl"), dir.join("after.jsonl"));
    let report = dir.join("diff.html");
    let out = run(&[
        "diff",
        "--json",
        "--report",
        report.to_str().unwrap(),
        b.to_str().unwrap(),
        a.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout)
}

/// `data-total="NAME">VALUE<` pairs of a page (or `data-matrix`), values without separators.
fn marked(html: &str, attribute: &str) -> BTreeMap<String, u64> {
    let mut found = BTreeMap::new();
    let open = format!("{attribute}=\"");
    for piece in html.split(&open).skip(1) {
        let (name, rest) = piece.split_once('"').unwrap();
        let value = rest.split_once('>').unwrap().1.split_once('<').unwrap().0;
        found.insert(name.to_owned(), value.replace(',', "").parse().unwrap());
    }
    found
}

/// No tag loads anything (every `<` from the files is escaped, so each `<` here opens a real
/// tag), and the style sheet fetches nothing.
fn assert_self_contained(html: &str) {
    let lower = html.to_lowercase();
    assert!(lower.starts_with("<!doctype html>"));
    for tag in lower.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap();
        let name = tag.split([' ', '\n', '/']).next().unwrap();
        assert!(
            !["script", "link", "img", "iframe", "object", "embed", "image", "use"].contains(&name),
            "the report holds a <{name}> tag"
        );
        for attribute in ["src=", "href=", "srcset=", "xlink:href="] {
            assert!(!tag.contains(attribute), "a tag has {attribute}: <{tag}>");
        }
    }
    let style = &lower[lower.find("<style>").unwrap()..lower.find("</style>").unwrap()];
    for needle in ["url(", "@import", "@font-face"] {
        assert!(!style.contains(needle), "the style sheet holds {needle}");
    }
    assert!(style.contains("@media print"));
}

/// The totals a diff's report must show: `matched`, `changed` and each kind's records.
fn diff_totals(totals: &Value) -> BTreeMap<String, u64> {
    let mut want = BTreeMap::new();
    for name in ["matched", "changed"] {
        want.insert(name.to_owned(), totals[name].as_u64().unwrap());
    }
    for (kind, t) in totals["kinds"].as_object().unwrap() {
        want.insert(kind.clone(), t["records"].as_u64().unwrap());
    }
    want
}

fn matrix_totals(totals: &Value) -> BTreeMap<String, u64> {
    let mut want = BTreeMap::new();
    for (row, columns) in totals["matrix"].as_object().unwrap() {
        for (column, n) in columns.as_object().unwrap() {
            want.insert(format!("{row}.{column}"), n.as_u64().unwrap());
        }
    }
    want
}

#[test]
fn reports_are_self_contained_and_show_the_json_figures() {
    let dir = tempfile::tempdir().unwrap();
    let lines = rotation(dir.path());
    let totals = &lines.last().unwrap()["totals"];
    // The rotation: key es256-b retired, x509pop trust moved to a new intermediate.
    let lost = &totals["kinds"]["lost"];
    let groups: BTreeMap<&str, u64> = lost["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap(), g["records"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        groups.keys().copied().collect::<Vec<_>>(),
        ["chain/untrusted_chain", "decode/unknown_key"]
    );

    let html = fs::read_to_string(dir.path().join("diff.html")).unwrap();
    assert_self_contained(&html);
    assert_eq!(marked(&html, "data-total"), diff_totals(totals));
    assert_eq!(marked(&html, "data-matrix"), matrix_totals(totals));
    assert!(html.contains("<svg class=\"chart bars\""));

    for name in ["before", "after"] {
        let html = fs::read_to_string(dir.path().join(format!("{name}.html"))).unwrap();
        assert_self_contained(&html);
        let summary: Value = serde_json::from_str(
            &fs::read_to_string(dir.path().join(format!("{name}.summary.json"))).unwrap(),
        )
        .unwrap();
        let want: BTreeMap<String, u64> = ["records", "attested", "rejected"]
            .iter()
            .map(|k| (k.to_string(), summary[k].as_u64().unwrap()))
            .collect();
        assert_eq!(marked(&html, "data-total"), want, "{name}");
        assert!(
            html.contains("2026-11-29T00:00:00Z (1795910400)"),
            "--now is shown"
        );
        assert!(html.contains("bootstrap-es256"), "the config is summarised");
        assert_eq!(html.matches("<svg class=\"chart").count(), 3, "{name}");
    }
    let after = fs::read_to_string(dir.path().join("after.html")).unwrap();
    assert!(
        after.contains("es256-b (not configured)"),
        "the retired key has its row"
    );
}

#[test]
fn strings_from_the_files_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = "<script>alert(1)</script>";
    let before = json!({"line":1,"id":hostile,"type":"jwt","status":"attested",
        "agent_id":"spiffe://td/a","selectors":["jwt:x:\"><svg onload=alert(2)>"],"aliases":[]});
    let after = json!({"line":1,"id":hostile,"type":"jwt","status":"rejected",
        "error":{"stage":"decode","code":"<b>bold</b>","message":"<img src=x>"}});
    let (b, a) = (dir.path().join("b.jsonl"), dir.path().join("a.jsonl"));
    fs::write(&b, format!("{before}\n")).unwrap();
    fs::write(&a, format!("{after}\n")).unwrap();
    let report = dir.path().join("r.html");
    let out = run(&[
        "diff",
        "--report",
        report.to_str().unwrap(),
        b.to_str().unwrap(),
        a.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let html = fs::read_to_string(&report).unwrap();
    assert_self_contained(&html);
    assert!(!html.contains("<b>bold"));
    assert!(!html.contains("<img"));
    assert!(html.contains("&#60;img src=x&#62;"));
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(html.contains("decode/&#60;b&#62;bold&#60;/b&#62;"));
    // The terminal table escapes control characters in ids.
    let ctl = json!({"line":1,"id":"evil\u{1b}[2J","type":"jwt","status":"attested"});
    let ctl_after = json!({"line":1,"id":"evil\u{1b}[2J","type":"jwt","status":"rejected","error":{"code":"x"}});
    fs::write(&b, format!("{ctl}\n")).unwrap();
    fs::write(&a, format!("{ctl_after}\n")).unwrap();
    let out = run(&["diff", b.to_str().unwrap(), a.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("evil\\u{1b}[2J"), "{text}");
}

/// Debian's `chromium` (scripts/test.sh installs it), or `FLEET_ATTEST_CHROMIUM`.
fn chromium() -> PathBuf {
    if let Ok(path) = std::env::var("FLEET_ATTEST_CHROMIUM") {
        return PathBuf::from(path);
    }
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "no headless browser: this test opens the report in Debian's chromium, which \
         scripts/test.sh installs (apt-get install chromium); or set FLEET_ATTEST_CHROMIUM"
    );
}

/// Runs headless Chromium with the given extra arguments on `page`; returns stdout. A fresh
/// profile each time, nothing fetched from the network, killed after two minutes.
fn headless(page: &Path, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).map(|_| text)
    });
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited {status}");
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish in two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap().unwrap()
}

/// Measures the rendered page from inside the browser: the text of every `data-total` and
/// `data-matrix` element, and each SVG chart's laid-out size and number of shapes. Appended to a
/// copy of the report (the report itself has no script), read back from the dumped DOM.
const MEASURE: &str = r#"<script>
const out = {totals: {}, matrix: {}, charts: [], cards: 0};
for (const e of document.querySelectorAll('[data-total]')) out.totals[e.dataset.total] = e.textContent.trim();
for (const e of document.querySelectorAll('[data-matrix]')) out.matrix[e.dataset.matrix] = e.textContent.trim();
for (const s of document.querySelectorAll('svg')) {
  const r = s.getBoundingClientRect();
  out.charts.push({width: r.width, height: r.height, shapes: s.querySelectorAll('rect').length,
                   isSvg: s instanceof SVGSVGElement});
}
for (const c of document.querySelectorAll('.card')) if (c.getBoundingClientRect().width > 0) out.cards++;
const pre = document.createElement('pre');
pre.id = 'measured';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"#;

#[test]
fn the_demo_diffs_report_renders_its_totals_and_charts_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let lines = rotation(dir.path());
    let totals = &lines.last().unwrap()["totals"];
    let html = fs::read_to_string(dir.path().join("diff.html")).unwrap();
    let measured_page = dir.path().join("measured.html");
    fs::write(
        &measured_page,
        html.replace("</body>", &format!("{MEASURE}</body>")),
    )
    .unwrap();

    let dom = headless(&measured_page, &["--dump-dom".to_owned()]);
    let start = dom
        .find("<pre id=\"measured\">")
        .expect("the measuring script ran")
        + 19;
    let end = start + dom[start..].find("</pre>").unwrap();
    let text = dom[start..end]
        .replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace("&amp;", "&");
    let measured: Value = serde_json::from_str(&text).unwrap();

    let number = |v: &Value| v.as_str().unwrap().replace(',', "").parse::<u64>().unwrap();
    let shown: BTreeMap<String, u64> = measured["totals"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), number(v)))
        .collect();
    assert_eq!(
        shown,
        diff_totals(totals),
        "rendered totals against diff --json"
    );
    let matrix: BTreeMap<String, u64> = measured["matrix"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), number(v)))
        .collect();
    assert_eq!(matrix, matrix_totals(totals));
    let charts = measured["charts"].as_array().unwrap();
    assert!(charts.len() >= 2, "{measured}");
    for chart in charts {
        assert_eq!(chart["isSvg"], true);
        assert!(chart["width"].as_f64().unwrap() > 100.0, "{chart}");
        assert!(chart["height"].as_f64().unwrap() > 10.0, "{chart}");
        assert!(chart["shapes"].as_u64().unwrap() > 0, "{chart}");
    }
    assert_eq!(measured["cards"], 12);

    // A picture of the report as a person sees it, kept under target/ to look at.
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshots");
    fs::create_dir_all(&shots).unwrap();
    for name in ["diff", "after"] {
        let png = shots.join(format!("demo-{name}.png"));
        let _ = fs::remove_file(&png);
        headless(
            &dir.path().join(format!("{name}.html")),
            &[format!("--screenshot={}", png.display())],
        );
        let bytes = fs::read(&png).expect("screenshot written");
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{}",
            png.display()
        );
    }
}
