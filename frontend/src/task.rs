//! A user-triggered async action (submit, resend, delete…) with a tracked `pending` flag.
//! A dispatch while one is running is ignored, so nothing double-submits. It plays the
//! part of `Action::new_local` at a fraction of its size: futures are boxed (one copy of
//! the driving code) and nothing keeps inputs or outputs around.

use std::future::Future;

use futures::future::LocalBoxFuture;
use leptos::{prelude::*, task::spawn_local};

type Run<I> = Box<dyn Fn(&I) -> LocalBoxFuture<'static, ()>>;

pub struct Task<I: 'static> {
    pending: RwSignal<bool>,
    run: StoredValue<Run<I>, LocalStorage>,
}

impl<I: 'static> Clone for Task<I> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I: 'static> Copy for Task<I> {}

impl<I: 'static> Task<I> {
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn(&I) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let run: Run<I> = Box::new(move |input| Box::pin(f(input)));
        Task {
            pending: RwSignal::new(false),
            run: StoredValue::new_local(run),
        }
    }

    /// True while the last dispatch runs (tracked).
    pub fn pending(self) -> Signal<bool> {
        self.pending.into()
    }

    /// Starts the action unless it is already running.
    pub fn dispatch(self, input: I) {
        if self.pending.get_untracked() {
            return;
        }
        let Some(future) = self.run.try_with_value(|run| run(&input)) else {
            return;
        };
        self.pending.set(true);
        let pending = self.pending;
        spawn_local(async move {
            future.await;
            // The page may have gone meanwhile.
            pending.try_set(false);
        });
    }
}
