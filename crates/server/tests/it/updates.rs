//! `/updates/`: the desktop app's manifest and packages, served from `--updates-dir`.

use confab_test_support::TestServer;

async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    match reqwest::get(server.http_url(path)).await {
        Ok(r) => r,
        Err(e) => panic!("GET {path}: {e}"),
    }
}

#[tokio::test]
async fn without_published_updates_the_manifest_says_no_update() {
    let server = TestServer::start().await;
    assert_eq!(get(&server, "/updates/latest.json").await.status(), 204);
    assert_eq!(get(&server, "/updates/Confab.deb").await.status(), 404);
}

#[tokio::test]
async fn published_files_are_served_whole_and_nothing_outside_the_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = r#"{"version":"0.2.0","platforms":{}}"#;
    std::fs::write(dir.path().join("latest.json"), manifest).expect("write");
    let package: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("Confab_0.2.0_amd64.deb"), &package).expect("write");
    std::fs::write(dir.path().join(".secret"), "no").expect("write");
    // A link that points out of the folder, as a careless or hostile publisher could leave.
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("confab.db"), "private").expect("write");
    std::os::unix::fs::symlink(
        outside.path().join("confab.db"),
        dir.path().join("Confab_0.2.0.tar.gz"),
    )
    .expect("symlink");
    let updates = dir.path().to_owned();
    let server = TestServer::start_with(|c| c.updates_dir = Some(updates)).await;

    let r = get(&server, "/updates/latest.json").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.expect("body"), manifest);

    let r = get(&server, "/updates/Confab_0.2.0_amd64.deb").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.content_length(),
        Some(package.len() as u64),
        "a length, for progress"
    );
    assert_eq!(r.bytes().await.expect("body").as_ref(), package.as_slice());

    for escape in [
        "/updates/.secret",
        "/updates/..%2Fconfab.db",
        "/updates/%2E%2E",
        "/updates/missing.deb",
        "/updates/Confab_0.2.0.tar.gz",
    ] {
        let r = get(&server, escape).await;
        assert_eq!(r.status(), 404, "{escape}");
    }
}
