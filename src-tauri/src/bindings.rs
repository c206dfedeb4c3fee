//! The UI's TypeScript types, generated from the Rust types it receives, and a test that fails
//! when the committed file is stale. Regenerate with
//! `CONFAB_BLESS=1 cargo test -p confab-desktop --lib bindings`.

use ts_rs::TS;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/ui/src/bindings.ts");

fn generate() -> String {
    let cfg = ts_rs::Config::default();
    let decls = [
        confab_protocol::Attachment::decl(&cfg),
        confab_protocol::MessageData::decl(&cfg),
        confab_protocol::ErrorCode::decl(&cfg),
        confab_protocol::Visibility::decl(&cfg),
        confab_protocol::Role::decl(&cfg),
        confab_protocol::MemberAction::decl(&cfg),
        confab_protocol::MemberEvent::decl(&cfg),
        confab_protocol::EditEvent::decl(&cfg),
        confab_protocol::DeleteEvent::decl(&cfg),
        confab_protocol::ReactEvent::decl(&cfg),
        confab_protocol::MemberInfo::decl(&cfg),
        confab_protocol::SearchHit::decl(&cfg),
        confab_protocol::RoomSummary::decl(&cfg),
        confab_protocol::api::Profile::decl(&cfg),
        confab_client::Conversation::decl(&cfg),
        confab_client::ConnState::decl(&cfg),
        confab_client::Outgoing::decl(&cfg),
        confab_client::OutgoingStatus::decl(&cfg),
        confab_client::Draft::decl(&cfg),
        confab_client::Target::decl(&cfg),
        confab_client::LocalFile::decl(&cfg),
        confab_client::ClientCode::decl(&cfg),
        confab_client::Code::decl(&cfg),
        confab_client::Event::decl(&cfg),
        confab_client::Account::decl(&cfg),
        confab_client::SearchSource::decl(&cfg),
        confab_client::Found::decl(&cfg),
        confab_client::SearchResults::decl(&cfg),
        crate::commands::Snapshot::decl(&cfg),
        crate::commands::RoomView::decl(&cfg),
        crate::errors::AppCode::decl(&cfg),
        crate::errors::UiCode::decl(&cfg),
        crate::errors::UiError::decl(&cfg),
        crate::update::UpdateStatus::decl(&cfg),
        crate::files::PickedFile::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by src-tauri/src/bindings.rs. Do not edit by hand:\n\
         // CONFAB_BLESS=1 cargo test -p confab-desktop --lib bindings\n\n",
    );
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[test]
fn typescript_bindings_are_fresh() {
    let fresh = generate();
    if std::env::var_os("CONFAB_BLESS").is_some() {
        std::fs::write(PATH, &fresh).unwrap_or_else(|e| panic!("writing {PATH}: {e}"));
    }
    let committed = std::fs::read_to_string(PATH).unwrap_or_default();
    assert!(
        committed == fresh,
        "ui/src/bindings.ts is stale: run CONFAB_BLESS=1 cargo test -p confab-desktop --lib bindings"
    );
}
