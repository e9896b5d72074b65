//! `fjord::EmbeddedBroker` logs to the `tracing` subscriber of the code that started it, even a
//! scoped one (`tracing::subscriber::set_default`), which other threads do not see otherwise.
//!
//! A test binary of its own: tracing caches each log call site's interest process-wide, and a
//! call site first reached by another test's broker while this test's subscriber is being
//! registered can be cached as "never" (a race inside tracing-core), which would make this
//! test flaky beside the others.

use fjord::EmbeddedBroker;

/// Log lines written into a shared buffer.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_broker_logs_to_the_subscriber_of_the_code_that_started_it() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer({
            let c = captured.clone();
            move || c.clone()
        })
        .finish();
    // Scoped to this test's thread: the broker's own threads hear it through start().
    let _guard = tracing::subscriber::set_default(subscriber);
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let bootstrap = broker.bootstrap_servers().to_string();
    broker.shutdown().await.unwrap();
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // Logged by the task that accepts connections, on one of the broker's worker threads.
    assert!(
        text.contains(&format!("listening on PLAINTEXT://{bootstrap} (PLAINTEXT)")),
        "{text}"
    );
}
