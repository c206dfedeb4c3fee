//! Integration tests of the client core against the real confab-server on loopback (through a
//! fault-injecting proxy where the network has to misbehave), plus reconnect-logic tests on
//! tokio's paused clock with an in-memory WebSocket.

mod changes;
mod chaos;
mod chaos_changes;
mod cli;
mod cli_files;
mod cli_rooms;
mod cli_search;
mod conversations;
mod failover;
mod faults;
mod files;
mod harness;
mod messaging;
mod nodes;
mod paused;
mod search;
mod sign_out;
