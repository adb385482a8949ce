//! The web console: its accounts (`mailcert console user …`), the HTTPS
//! API and its security, and the pages in a real browser (Chromium).

mod browser;
mod reload;
mod security;
mod support;
mod users;
