//! A fresh set of recovery codes, shown this once (SPEC §10: the API keeps only keyed
//! hashes): the list, "Copy codes" (the clipboard), "Download .txt" (a `data:` link, so
//! no script builds the file), and "I've saved them", which puts them away for good.

use leptos::{html, prelude::*};
use wasm_bindgen_futures::JsFuture;

/// The name of the downloaded file.
pub const FILE_NAME: &str = "phonereg-recovery-codes.txt";

/// The text that is copied and downloaded: what the codes are for, then one per line.
pub fn codes_text(account: &str, codes: &[String]) -> String {
    let mut text = format!(
        "PhoneReg recovery codes for {account}\n\
         Each code works once: to sign in when your phone is not at hand, or with a texted\n\
         code to reset your password. Keep them somewhere safe.\n\n"
    );
    for code in codes {
        text.push_str(code);
        text.push('\n');
    }
    text
}

/// A `data:` URL of the codes as a plain-text file.
fn download_href(text: &str) -> String {
    format!(
        "data:text/plain;charset=utf-8,{}",
        String::from(js_sys::encode_uri_component(text))
    )
}

#[component]
pub fn RecoveryCodeList(
    codes: Vec<String>,
    /// The account's email, named in the copied and downloaded text.
    account: String,
    on_done: Callback<()>,
) -> impl IntoView {
    let text = codes_text(&account, &codes);
    let href = download_href(&text);
    let copied = RwSignal::new(None::<&'static str>);
    let heading_ref = NodeRef::<html::H3>::new();
    // The codes appear after a form closes: start reading here.
    Effect::new(move |_| {
        if let Some(heading) = heading_ref.get() {
            let _ = heading.focus();
        }
    });
    let copy = move |_| {
        let text = text.clone();
        leptos::task::spawn_local(async move {
            let done = JsFuture::from(window().navigator().clipboard().write_text(&text)).await;
            copied.try_set(Some(match done {
                Ok(_) => "Copied to the clipboard.",
                Err(_) => "Couldn't copy: select the codes and copy them, or download them.",
            }));
        });
    };
    view! {
        <section class="recovery-codes" aria-labelledby="new-codes-title">
            <h3 id="new-codes-title" tabindex="-1" node_ref=heading_ref>"Save these recovery codes now"</h3>
            <p class="notice">
                "This is the only time they are shown. Each one signs you in once without your phone, and with a texted code it can reset your password. Keep them somewhere safe, away from your phone."
            </p>
            <ol class="code-list" aria-label="Recovery codes">
                {codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
            </ol>
            <p class="form-info" role="status">{move || copied.get()}</p>
            <div class="actions">
                <button type="button" class="btn" on:click=copy>"Copy codes"</button>
                <a class="btn" href=href download=FILE_NAME>"Download .txt"</a>
                <button type="button" class="btn btn-primary" on:click=move |_| on_done.run(())>
                    "I've saved them"
                </button>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_saved_text_names_the_account_and_lists_every_code() {
        let codes = vec!["abcd-1234".to_owned(), "wxyz-5678".to_owned()];
        let text = codes_text("ann@example.com", &codes);
        assert!(text.starts_with("PhoneReg recovery codes for ann@example.com\n"));
        assert!(text.ends_with("\n\nabcd-1234\nwxyz-5678\n"));
    }
}
