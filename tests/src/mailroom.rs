//! A real SMTP server with the delivery worker in front of it: tests queue mail through the
//! application, deliver it here and read what arrived (hold `MAIL_WORKERS` while using it).

use std::time::Duration;

use domain::EmailAddress;

use crate::smtp::{Received, SmtpSink};
use crate::{TestApp, link_path};

/// A real SMTP server and the delivery worker that sends queued mail to it.
pub struct Mailroom {
    sink: SmtpSink,
    transport: tenantdesk::mail_worker::Transport,
    config: tenantdesk::mail_worker::WorkerConfig,
}

impl Mailroom {
    pub fn start() -> Self {
        let sink = SmtpSink::start();
        let transport = tenantdesk::mail_worker::Transport::new(
            Some(&sink.url()),
            std::path::Path::new("/nonexistent"),
        )
        .expect("smtp transport");
        let config = tenantdesk::mail_worker::WorkerConfig::new(
            EmailAddress::parse(crate::MAIL_FROM).expect("from"),
            3,
        );
        Self {
            sink,
            transport,
            config,
        }
    }

    /// Delivers queued mail until `recipient` has received `count` messages; returns them.
    pub async fn deliver(&self, app: &TestApp, recipient: &str, count: usize) -> Vec<Received> {
        for _ in 0..250 {
            tenantdesk::mail_worker::deliver_batch(&app.state.store, &self.transport, &self.config)
                .await
                .expect("deliver");
            let received = self.sink.messages_to(recipient);
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{recipient} never received {count} message(s)");
    }

    /// The messages to `recipient` (once `count` arrived) whose subject contains `subject`.
    pub async fn received(
        &self,
        app: &TestApp,
        recipient: &str,
        count: usize,
        subject: &str,
    ) -> Vec<Received> {
        let found: Vec<Received> = self
            .deliver(app, recipient, count)
            .await
            .into_iter()
            .filter(|m| m.header("Subject").is_some_and(|s| s.contains(subject)))
            .collect();
        assert!(
            !found.is_empty(),
            "no mail about {subject:?} reached {recipient}"
        );
        found
    }

    /// The one link starting with `prefix` in a mail about `subject` that is not in `seen`.
    #[allow(clippy::too_many_arguments)]
    pub async fn new_link(
        &self,
        app: &TestApp,
        recipient: &str,
        count: usize,
        subject: &str,
        host: &str,
        prefix: &str,
        seen: &[&str],
    ) -> String {
        let links: Vec<String> = self
            .received(app, recipient, count, subject)
            .await
            .iter()
            .map(|m| link_path(&m.text, host, prefix))
            .filter(|link| !seen.contains(&link.as_str()))
            .collect();
        assert_eq!(links.len(), 1, "one new link expected: {links:?}");
        links.into_iter().next().unwrap_or_default()
    }

    /// The messages to `recipient` about `subject`, once `count` of them arrived.
    pub async fn received_about(
        &self,
        app: &TestApp,
        recipient: &str,
        count: usize,
        subject: &str,
    ) -> Vec<Received> {
        for _ in 0..250 {
            tenantdesk::mail_worker::deliver_batch(&app.state.store, &self.transport, &self.config)
                .await
                .expect("deliver");
            let found: Vec<Received> = self
                .sink
                .messages_to(recipient)
                .into_iter()
                .filter(|m| m.header("Subject").is_some_and(|s| s.contains(subject)))
                .collect();
            if found.len() >= count {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{recipient} never received {count} message(s) about {subject:?}");
    }
}
