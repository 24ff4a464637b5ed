//! `Queue` and `Leaky`: the bucket views given to scenario `condition` and `overflow_filter`.

use std::sync::Arc;
use std::time::Duration;

use crate::event::Event;
use crate::time::{GoTime, zero_time};

/// Largest queue allocated whole when created.
const QUEUE_ROOM: usize = 16;

/// The content of a bucket (`queue` in expressions): `Queue` oldest first and capacity `L`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Queue {
    /// Events held by the bucket, oldest first (`Queue`). Shared: the buckets of every
    /// scenario an event was poured into hold the same copy.
    pub queue: Vec<Arc<Event>>,
    /// Capacity; the queue holds up to `L + 1` events, `-1` means unbounded (`L`).
    pub l: i64,
}

impl Queue {
    /// An empty queue of capacity `l`.
    pub fn new(l: i64) -> Self {
        // Room for a small queue's whole content up front (it keeps `L + 1` events); large
        // or unbounded ones grow as needed.
        let room = usize::try_from(l.saturating_add(1)).map_or(0, |n| n.min(QUEUE_ROOM));
        Self {
            queue: Vec::with_capacity(room),
            l,
        }
    }

    /// Appends an event, dropping the oldest one when the queue holds more than `L` events
    /// (so it keeps up to `L + 1`), as upstream's `Queue.Add`.
    pub fn add(&mut self, evt: impl Into<Arc<Event>>) {
        if self.l >= 0 && self.queue.len() as i64 > self.l {
            self.queue.remove(0);
        }
        self.queue.push(evt.into());
    }
}

/// The bucket state visible as `leaky` in expressions (upstream's `*Leaky`, exposed fields only).
#[derive(Debug, Clone, PartialEq)]
pub struct Leaky {
    /// Scenario name (`Name`).
    pub name: String,
    /// Bucket key (`Mapkey`).
    pub mapkey: String,
    /// Bucket instance UUID (`Uuid`).
    pub uuid: String,
    /// Time of the first event (`First_ts`).
    pub first_ts: GoTime,
    /// Time of the last event (`Last_ts`).
    pub last_ts: GoTime,
    /// Overflow time, zero until it overflows (`Ovflw_ts`).
    pub ovflw_ts: GoTime,
    /// Events poured so far (`Total_count`).
    pub total_count: i64,
    /// Scenario capacity (`Capacity`).
    pub capacity: i64,
    /// Leak speed (`Leakspeed`).
    pub leakspeed: Duration,
    /// Counter / conditional duration (`Duration`).
    pub duration: Duration,
    /// 0 = LIVE, 1 = TIMEMACHINE (`Mode`).
    pub mode: i64,
}

impl Default for Leaky {
    fn default() -> Self {
        Self {
            name: String::new(),
            mapkey: String::new(),
            uuid: String::new(),
            first_ts: zero_time(),
            last_ts: zero_time(),
            ovflw_ts: zero_time(),
            total_count: 0,
            capacity: 0,
            leakspeed: Duration::ZERO,
            duration: Duration::ZERO,
            mode: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(capacity: i64, adds: usize, expected_len: usize) {
        let mut q = Queue::new(capacity);
        for i in 0..adds {
            q.add(Event::new_log(i.to_string(), "file"));
        }
        assert_eq!(q.queue.len(), expected_len, "L={capacity} adds={adds}");
        if adds > 0 {
            assert_eq!(q.queue.last().unwrap().line.raw, (adds - 1).to_string());
        }
    }

    #[test]
    fn queue_keeps_l_plus_one() {
        check(2, 5, 3);
        check(0, 3, 1);
        check(-1, 7, 7);
        check(5, 2, 2);
    }
}
