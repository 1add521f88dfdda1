//! PhoneReg's single-page app: Leptos, client-side rendered, built by Trunk (`Trunk.toml`).

mod api;
mod app;
mod captcha;
mod components;
mod events;
mod lookup;
mod pages;
mod panels;
mod paths;
mod session;
mod task;
#[cfg(test)]
mod test_answers;
mod time;
mod webotp;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
