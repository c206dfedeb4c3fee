//! `confab search`: the user's rooms searched on the server, or in this data dir's cache when
//! the server cannot be reached (each hit says which).

use super::{CLOSE_WAIT, login};
use confab_client::{ConnState, Event, Found, Profile, SearchRequest, SearchSource};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// How long the command waits for a connection before it searches the cache instead.
const CONNECT_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
pub(super) struct SearchArgs {
    /// Words, "quoted phrases" and filters: from:USER, in:ROOM, has:file.
    query: String,
    /// Search one room only.
    #[arg(long)]
    room: Option<String>,
    /// Hits to print (1-50).
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Continue after a previous page: the `next` it printed.
    #[arg(long, allow_hyphen_values = true)]
    page: Option<String>,
    /// One JSON object per hit (the protocol's hit with a `source`), then one with `next`.
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(profile: &Profile, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let (client, mut events) = profile.start(&login(profile)?, |_| {})?;
    // Online, the server answers; if it cannot be reached soon, the cache does.
    let open = async {
        while let Some(ev) = events.recv().await {
            if matches!(ev, Event::State(ConnState::Open { .. })) {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(CONNECT_WAIT, open).await;
    let request = SearchRequest {
        query: args.query,
        room: args.room,
        page: args.page,
        limit: args.limit,
    };
    let found = client.search(request).await;
    drop(events);
    let _ = tokio::time::timeout(CLOSE_WAIT, client.shutdown()).await;
    let found = found?;
    let mut out = std::io::stdout().lock();
    for f in &found.hits {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(f)?)?;
        } else {
            writeln!(out, "{}", line(f))?;
        }
    }
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"more": found.more, "next": found.next})
        )?;
    } else if let Some(next) = &found.next {
        writeln!(out, "(more: --page {next})")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `#room seq author: body`, the matched words in [brackets], marked when from the cache.
fn line(f: &Found) -> String {
    let h = &f.hit;
    let mut body = String::with_capacity(h.body.len() + 8);
    let mut marks = h.highlights.iter().peekable();
    for (i, c) in h.body.chars().enumerate() {
        let i = i as u32;
        if marks.peek().is_some_and(|[s, _]| *s == i) {
            body.push('[');
        }
        body.push(c);
        if marks.peek().is_some_and(|[_, e]| *e == i + 1) {
            body.push(']');
            marks.next();
        }
    }
    let from = match f.source {
        SearchSource::Server => "",
        SearchSource::Cache => " (cached)",
    };
    format!(
        "#{} {} {}: {}{from}",
        h.room,
        h.seq,
        h.author,
        body.replace('\n', " ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_protocol::SearchHit;

    #[test]
    fn a_hit_prints_on_one_line_with_its_matches_marked() {
        let f = Found {
            hit: SearchHit {
                room: "general".into(),
                seq: 7,
                author: "alice".into(),
                body: "we deploy\non Friday".into(),
                ts: 0,
                highlights: vec![[3, 9], [13, 19]],
            },
            source: SearchSource::Cache,
        };
        assert_eq!(
            line(&f),
            "#general 7 alice: we [deploy] on [Friday] (cached)"
        );
    }
}
