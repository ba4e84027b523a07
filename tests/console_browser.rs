//! The operator console in a real browser: Debian's chromium, headless, driven through
//! chromedriver (fantoccini) against a real `tallyman serve` on loopback. The overview shows the
//! failing source and the late file first; a run page's numbers equal the manifest's, in the
//! console and in the embedded report; a rerun through the form with the token creates the
//! rerun and the ledger records its actor; the same form with a wrong CSRF value or without the
//! token is refused and changes nothing; a download path climbing out of the archive is refused.
//! Screenshots of each page are saved under `target/console-screenshots/`.

#[path = "support/home.rs"]
mod home;

#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/prom.rs"]
mod prom;

#[path = "support/console.rs"]
mod console;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use console::{console_home, pipeline_count, run_dir, TOKEN};
use daemon::{count, serve, wait_for};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn start_driver() -> Driver {
    assert!(
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
        "install Debian's chromium and chromium-driver (scripts/test.sh does)"
    );
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let d = Driver { child, port };
    wait_for(Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    d
}

fn screenshots() -> PathBuf {
    // CARGO_TARGET_TMPDIR is target/tmp: the screenshots go beside it.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target folder")
        .join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "{name}: a PNG");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("save screenshot");
}

async fn connect(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            // CI runs as root: chromium's sandbox needs --no-sandbox there.
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1000"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("WebDriver session")
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

/// `data-<attr>` → text of every element carrying it on the current page (or frame).
async fn data_counts(c: &Client, attr: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in c
        .find_all(Locator::Css(&format!("[data-{attr}]")))
        .await
        .expect("find")
    {
        let key = e.attr(&format!("data-{attr}")).await.expect("attr");
        out.push((key.unwrap_or_default(), e.text().await.expect("text")));
    }
    out
}

async fn fill(c: &Client, form: &str, name: &str, value: &str) {
    let field = c
        .find(Locator::Css(&format!("{form} input[name={name}]")))
        .await
        .unwrap_or_else(|e| panic!("{form} {name}: {e}"));
    field.clear().await.expect("clear");
    field.send_keys(value).await.expect("type");
}

/// Sets a field by script (date inputs and hidden fields take no typing).
async fn set(c: &Client, form: &str, name: &str, value: &str) {
    c.execute(
        "document.querySelector(arguments[0]).value = arguments[1];",
        vec![
            serde_json::json!(format!("{form} input[name={name}]")),
            serde_json::json!(value),
        ],
    )
    .await
    .expect("set field");
}

#[test]
fn the_console_in_chromium() {
    let h = console_home(true);
    let d = serve(&h.root);
    let driver = start_driver();
    let base = format!("http://127.0.0.1:{}", d.port);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let c = connect(&driver).await;

        // The overview: the failing source, then the late file, first.
        c.goto(&format!("{base}/")).await.expect("overview");
        let mut order = Vec::new();
        for row in c.find_all(Locator::Css("tr[data-pipeline]")).await.expect("rows") {
            order.push((
                row.attr("data-pipeline").await.expect("attr").unwrap_or_default(),
                row.attr("data-state").await.expect("attr").unwrap_or_default(),
            ));
        }
        assert_eq!(order.len(), pipeline_count(&h.root), "{order:?}");
        assert!(order[2..].iter().all(|(_, s)| s != "failing" && s != "late"), "{order:?}");
        assert_eq!(order[0], ("orders_x12".to_string(), "failing".to_string()));
        assert_eq!(order[1], ("catalog_items".to_string(), "late".to_string()));
        let first_row = text_of(&c, "tr[data-pipeline]").await;
        assert!(first_row.contains("connect: refused"), "{first_row}");
        shot(&c, "overview").await;

        // The table refreshes in place: a source starts failing, the row moves up, and the
        // page was not reloaded (a marker set on it survives).
        c.execute("window.notReloaded = true;", vec![]).await.unwrap();
        let conn = rusqlite::Connection::open(h.root.join("var/ledger.sqlite")).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn.execute(
            "INSERT INTO source_status (pipeline, source, failures, failing_since, last_error)
             VALUES ('settlement_amazon_v2', 'sftp://bank@127.0.0.1:1/out', 1, '2026-12-01T00:00:00.000Z', 'auth failed')",
            [],
        )
        .unwrap();
        c.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("tr[data-pipeline=settlement_amazon_v2][data-state=failing]"))
            .await
            .expect("the refreshed table shows the new failure");
        let kept = c.execute("return window.notReloaded === true;", vec![]).await.unwrap();
        assert_eq!(kept, serde_json::json!(true), "refreshed without a reload");
        c.set_window_size(390, 844).await.expect("phone size");
        shot(&c, "overview-phone").await;
        c.set_window_size(1280, 1000).await.expect("desktop size");

        // A run: the console's counts and the embedded report's equal the manifest.
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(run_dir(&h.root, "r000001").join("manifest.json")).unwrap(),
        )
        .unwrap();
        c.goto(&format!("{base}/runs/r000001")).await.expect("run page");
        let shown: std::collections::BTreeMap<_, _> =
            data_counts(&c, "count").await.into_iter().collect();
        assert_eq!(shown["rows"], manifest["rows"].to_string());
        assert_eq!(shown["issues"], manifest["issues"].to_string());
        shot(&c, "run").await;
        let frame = c.find(Locator::Css("iframe.report")).await.expect("report frame");
        frame.enter_frame().await.expect("enter the report");
        let in_report: std::collections::BTreeMap<_, _> =
            data_counts(&c, "count").await.into_iter().collect();
        let totals: std::collections::BTreeMap<_, _> =
            data_counts(&c, "total").await.into_iter().collect();
        c.enter_parent_frame().await.expect("leave the report");
        assert_eq!(totals["issues"], manifest["issues"].to_string());
        for (key, value) in manifest["reconciliation"].as_object().unwrap() {
            assert_eq!(shown[key], value.to_string(), "console {key}");
            assert_eq!(in_report[key], value.to_string(), "report {key}");
        }

        // A rerun through the form, with the token.
        let runs_before = count(&h.root, "SELECT count(*) FROM runs");
        let form = "#rerun-form";
        c.goto(&format!("{base}/pipelines/inventory_3pl")).await.expect("pipeline");
        shot(&c, "pipeline").await;
        set(&c, form, "date", "2026-11-25").await;
        fill(&c, form, "reason", "partner resent the file").await;
        fill(&c, form, "actor", "ana").await;
        fill(&c, form, "token", TOKEN).await;
        c.find(Locator::Css(&format!("{form} button"))).await.unwrap().click().await.unwrap();
        wait_for(Duration::from_secs(60), || {
            count(
                &h.root,
                "SELECT count(*) FROM runs WHERE trigger = 'rerun' AND actor = 'ana'
                 AND reason = 'partner resent the file' AND rerun_of = 'r000001'",
            ) == 1
        });
        assert_eq!(
            count(&h.root, "SELECT count(*) FROM console_actions WHERE actor = 'ana' AND action = 'rerun'"),
            1
        );
        let url = c.current_url().await.unwrap();
        assert_eq!(url.path(), "/pipelines/inventory_3pl");
        wait_for(Duration::from_secs(30), || {
            count(&h.root, "SELECT count(*) FROM console_actions WHERE outcome LIKE 'exit 0%'") == 1
        });

        // The same form with a wrong CSRF value, then without the token: refused, no change.
        let runs_after = count(&h.root, "SELECT count(*) FROM runs");
        assert_eq!(runs_after, runs_before + 1);
        for (why, csrf, token) in [("wrong CSRF", Some("0".repeat(64)), TOKEN), ("no token", None, "")] {
            c.goto(&format!("{base}/pipelines/inventory_3pl")).await.unwrap();
            set(&c, form, "date", "2026-11-25").await;
            fill(&c, form, "reason", "should not run").await;
            fill(&c, form, "actor", "mallory").await;
            if let Some(v) = &csrf {
                set(&c, form, "csrf", v).await;
            }
            c.execute(
                "document.querySelector('#rerun-form input[name=token]').removeAttribute('required');",
                vec![],
            )
            .await
            .unwrap();
            fill(&c, form, "token", token).await;
            c.find(Locator::Css(&format!("{form} button"))).await.unwrap().click().await.unwrap();
            // The answer page, once it has replaced the form's.
            let said = c
                .wait()
                .at_most(Duration::from_secs(20))
                .for_element(Locator::XPath("//p[contains(., 'Nothing was changed')]/.."))
                .await
                .unwrap_or_else(|e| panic!("{why}: no refusal page: {e}"))
                .text()
                .await
                .unwrap();
            assert!(said.contains("Nothing was changed"), "{why}: {said}");
            shot(&c, &format!("refused-{}", why.replace(' ', "-"))).await;
        }
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(count(&h.root, "SELECT count(*) FROM runs"), runs_after);
        assert_eq!(count(&h.root, "SELECT count(*) FROM console_actions WHERE actor = 'mallory'"), 0);

        // Search, then a download path out of the archive.
        c.goto(&format!("{base}/search?q=stock_2026")).await.unwrap();
        assert!(text_of(&c, "#found-files").await.contains("stock_2026-11-25.csv"));
        shot(&c, "search").await;
        // The browser resolves `..` and `%2e%2e` itself; escaped slashes reach the server as sent.
        c.goto(&format!("{base}/archive/inventory_3pl%2f..%2f..%2fvar%2fledger.sqlite"))
            .await
            .unwrap();
        let said = text_of(&c, "body").await;
        assert!(said.contains("refused"), "{said}");
        assert!(!said.contains("SQLite format"));
        shot(&c, "download-refused").await;
        c.goto(&format!("{base}/archive/../var/ledger.sqlite")).await.unwrap();
        let said = text_of(&c, "body").await;
        assert!(!said.contains("SQLite format"), "{said}");

        c.close().await.expect("close the browser");
    });
    d.stop();
}
