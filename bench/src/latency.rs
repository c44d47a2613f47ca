//! Latency percentiles (nearest rank) over recorded durations.

use std::time::Duration;

/// Recorded durations, sorted once for reading percentiles.
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The nearest-rank percentile `p` (0 < p <= 100); zero when nothing was recorded.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = (p / 100.0 * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }
}

/// Milliseconds with two decimals.
pub fn ms(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let latencies = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(latencies.percentile(50.0), Duration::from_millis(50));
        assert_eq!(latencies.percentile(99.0), Duration::from_millis(99));
        assert_eq!(latencies.percentile(100.0), Duration::from_millis(100));
        assert_eq!(Latencies::new(Vec::new()).percentile(99.0), Duration::ZERO);
    }
}
