//! The bucket manager: routes events to scenarios and bucket instances, runs the processors in
//! upstream's order, fires wall-clock timers and garbage-collects idle buckets.

use std::cell::OnceCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use cs_expr::{Clock, Guard, Memo};

use crate::verdicts::Prefilter;
use cs_metrics::{Counter, Gauge, Metrics};
use cs_types::{Event, EventType, ExpectMode, GoTime, Leaky, Queue, RuntimeAlert};
use sha1::{Digest, Sha1};

use crate::alert::{self, is_zero};
use crate::context::AlertContext;
use crate::expr::Outcome;
use crate::kinds;
use crate::limiter::Limiter;
use crate::scenario::{BucketKind, Scenario};
use crate::{Error, Result};

/// Bucket count below which the garbage collector does not run.
const GC_MIN_BUCKETS: usize = 4_096;

/// Counters of bucket activity, per scenario as upstream's `cs_bucket_*_total{name}` metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EngineStats {
    /// Bucket instances created.
    pub instantiated: u64,
    /// Events poured into buckets (after `distinct`/`cancel_on`).
    pub poured: u64,
    /// Overflows (including those discarded by `overflow_filter` or `blackhole`).
    pub overflowed: u64,
    /// Buckets that expired without overflowing (wall-clock timer).
    pub underflowed: u64,
    /// Buckets killed by `cancel_on`.
    pub canceled: u64,
    /// Idle buckets dropped by the garbage collector before their timer fired.
    pub evicted: u64,
}

impl EngineStats {
    fn add(&mut self, other: &Self) {
        self.instantiated += other.instantiated;
        self.poured += other.poured;
        self.overflowed += other.overflowed;
        self.underflowed += other.underflowed;
        self.canceled += other.canceled;
        self.evicted += other.evicted;
    }
}

/// How an engine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Drop idle time-machine buckets whose fate no longer depends on them (see
    /// [`BucketEngine::collect_garbage`]) whenever the number of buckets doubled since the last
    /// collection (and is at least 4 096), so that its cost stays proportional to pours.
    pub garbage_collect: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            garbage_collect: true,
        }
    }
}

/// The Prometheus handles of one scenario, resolved once (upstream's `cs_bucket_*` families,
/// labelled with the scenario name).
struct ScenarioMetrics {
    created: Counter,
    overflowed: Counter,
    underflowed: Counter,
    canceled: Counter,
    evicted: Counter,
    live: Gauge,
    /// `cs_bucket_poured_total` by (`Line.Src`, `Line.Module`): a handful of sources per
    /// scenario, so a linear scan beats hashing the pair.
    poured: Vec<(Box<str>, Box<str>, Counter)>,
}

impl ScenarioMetrics {
    fn new(m: &Metrics, name: &str) -> Self {
        Self {
            created: m.bucket_created.with([name]),
            overflowed: m.bucket_overflowed.with([name]),
            underflowed: m.bucket_underflowed.with([name]),
            canceled: m.bucket_canceled.with([name]),
            evicted: m.bucket_evicted.with([name]),
            live: m.buckets.with([name]),
            poured: Vec::new(),
        }
    }
}

/// The metrics an engine publishes to.
struct EngineMetrics {
    registry: &'static Metrics,
    /// Same order as the engine's scenarios.
    scenarios: Vec<ScenarioMetrics>,
}

impl EngineMetrics {
    fn new(registry: &'static Metrics, scenarios: &[Arc<Scenario>]) -> Self {
        Self {
            registry,
            scenarios: scenarios
                .iter()
                .map(|s| ScenarioMetrics::new(registry, s.name()))
                .collect(),
        }
    }

    fn poured(&mut self, si: usize, name: &str, evt: &Event) {
        let (src, module) = (evt.line.src.as_str(), evt.line.module.as_str());
        let per = &mut self.scenarios[si].poured;
        if let Some((_, _, c)) = per.iter().find(|(s, m, _)| **s == *src && **m == *module) {
            c.inc();
            return;
        }
        let c = self.registry.bucket_poured.with([src, module, name]);
        c.inc();
        per.push((src.into(), module.into(), c));
    }
}

/// One bucket instance.
#[derive(Debug)]
struct Bucket {
    /// Unique per engine, so that a timer of a freed slot cannot hit its next occupant.
    id: u64,
    /// The scenario that created it: its settings and processors apply to every event poured,
    /// whichever scenario pours it.
    scenario: usize,
    /// The key of the bucket in its index (see [`Route`]).
    key: Arc<str>,
    /// Still reachable from the index (false once replaced by a fresher time-machine bucket).
    attached: bool,
    mode: ExpectMode,
    leaky: Leaky,
    queue: Queue,
    limiter: Limiter,
    /// `distinct` values seen.
    seen: HashSet<String>,
    /// Bayesian guillotine state per condition.
    guillotines: Vec<bool>,
    /// Lifetime (nanoseconds) and whether expiry is a timed overflow (counter).
    lifetime: i64,
    timed: bool,
    /// Wall-clock deadline of the lifetime timer, once started.
    deadline: Option<i64>,
}

/// A pending timer: (deadline, bucket id, slot). Timers due at the same instant fire in bucket
/// creation order. Stale entries are skipped or re-queued lazily.
type Timer = Reverse<(i64, u64, usize)>;

/// Scenario-wide blackhole: bucket keys and when they may overflow again.
#[derive(Debug, Default)]
struct Blackhole {
    hidden: Vec<(Arc<str>, GoTime)>,
}

/// Where a scenario finds its bucket instances.
///
/// Upstream keeps every bucket in one map keyed by `sha1(filter ‖ groupby ‖ name)`, shared by
/// all scenarios: scenarios with the same filter and name pour the same groupby value into the
/// same bucket. Scenarios with the same filter and name share an index keyed by the groupby
/// value alone. The few whose concatenated key could also spell a key of another filter and
/// name (one filter a prefix of the other and one name a suffix of the other) share one index
/// keyed by the whole concatenation, so that keys coincide exactly when upstream's do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Route {
    index: usize,
    whole_key: bool,
}

/// The route of each scenario and the number of indexes they use.
fn routes(scenarios: &[Arc<Scenario>]) -> (Vec<Route>, usize) {
    let mut classes: HashMap<(&str, &str), usize> = HashMap::new();
    let mut members: Vec<(&str, &str)> = Vec::new();
    let class_of: Vec<usize> = scenarios
        .iter()
        .map(|s| {
            let id = (s.config.filter.as_str(), s.name());
            *classes.entry(id).or_insert_with(|| {
                members.push(id);
                members.len() - 1
            })
        })
        .collect();
    // Two keys `f1 g1 n1` and `f2 g2 n2` can only be equal when one filter starts the other
    // and one name ends the other.
    let overlap = |(f1, n1): (&str, &str), (f2, n2): (&str, &str)| {
        (f1.starts_with(f2) || f2.starts_with(f1)) && (n1.ends_with(n2) || n2.ends_with(n1))
    };
    let ambiguous: Vec<bool> = members
        .iter()
        .enumerate()
        .map(|(c, &m)| {
            members
                .iter()
                .enumerate()
                .any(|(d, &other)| c != d && overlap(m, other))
        })
        .collect();
    let whole = members.len();
    let routes = class_of
        .into_iter()
        .map(|c| {
            if ambiguous[c] {
                Route {
                    index: whole,
                    whole_key: true,
                }
            } else {
                Route {
                    index: c,
                    whole_key: false,
                }
            }
        })
        .collect();
    (routes, whole + 1)
}

/// Holds every scenario and its live buckets.
pub struct BucketEngine {
    scenarios: Vec<Arc<Scenario>>,
    clock: Arc<dyn Clock>,
    context: Option<Arc<AlertContext>>,
    options: EngineOptions,
    slots: Vec<Option<Bucket>>,
    free: Vec<usize>,
    /// Per scenario: which index holds its buckets.
    routes: Vec<Route>,
    /// Per scenario: its filter's class (scenarios with the same filter text share one), so
    /// that an event is tested once per distinct filter.
    filter_class: Vec<usize>,
    /// Per scenario: its groupby's class, likewise (`None` without groupby).
    groupby_class: Vec<Option<usize>>,
    /// Per filter class: its result for the event being poured, until the event changes.
    filter_memo: Vec<Option<bool>>,
    /// Per filter class: its guard (an index in `guards`), a necessary condition checked
    /// before evaluating the filter.
    filter_guard: Vec<Option<usize>>,
    /// The distinct guards of the filters.
    guards: Vec<Guard>,
    /// Per guard: whether the event being poured passes it, until the event changes.
    guard_memo: Vec<Option<bool>>,
    /// What the filters found out about the event being poured, until the event changes.
    memo: Memo,
    /// Per groupby class: its result for the event being poured, until the event changes.
    groupby_memo: Vec<Option<String>>,
    /// Bucket key (see [`Route`]) → slot of its live bucket.
    index: Vec<HashMap<Arc<str>, usize>>,
    timers: BinaryHeap<Timer>,
    blackholes: Vec<Blackhole>,
    next_id: u64,
    /// Bucket count that triggers the next automatic collection.
    gc_threshold: usize,
    /// Latest event time seen by time-machine pours (nanoseconds).
    watermark: Option<i64>,
    /// Per scenario, same order as `scenarios`.
    stats: Vec<EngineStats>,
    /// `-dump-data`'s pour record: `OK` → every event offered, scenario name → events poured.
    pour_dump: Option<BTreeMap<String, Vec<Event>>>,
    /// Prometheus counters (`cs_bucket_*`), when published.
    metrics: Option<EngineMetrics>,
}

/// What became of a bucket after one event.
enum Step {
    /// Still alive.
    Done,
    /// Overflowed: emit and destroy.
    Overflow,
    /// Killed by `cancel_on`.
    Cancel,
}

impl std::fmt::Debug for BucketEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketEngine")
            .field("scenarios", &self.scenarios.len())
            .field("buckets", &self.bucket_count())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl BucketEngine {
    /// An engine over `scenarios`, reading wall-clock time from `clock`.
    pub fn new(scenarios: Vec<Scenario>, clock: Arc<dyn Clock>) -> Self {
        let n = scenarios.len();
        let scenarios: Vec<_> = scenarios.into_iter().map(Arc::new).collect();
        let (routes, indexes) = routes(&scenarios);
        let (filter_class, filters) = classes(scenarios.iter().map(|s| Some(&*s.config.filter)));
        let (groupby_class, groupbys) = classes(
            scenarios
                .iter()
                .map(|s| s.groupby.as_ref().map(|_| &*s.config.groupby)),
        );
        let filter_class: Vec<usize> = filter_class.into_iter().flatten().collect();
        // The guard of each filter class, numbered by distinct guard.
        let mut texts: Vec<Option<&str>> = vec![None; filters];
        for (s, &fc) in scenarios.iter().zip(&filter_class) {
            texts[fc] = Some(&s.config.filter);
        }
        let mut guards: Vec<Guard> = Vec::new();
        let filter_guard = texts
            .into_iter()
            .map(|text| {
                let guard = Guard::of(text?)?;
                Some(guards.iter().position(|g| *g == guard).unwrap_or_else(|| {
                    guards.push(guard);
                    guards.len() - 1
                }))
            })
            .collect();
        Self {
            filter_class,
            groupby_class,
            filter_guard,
            guard_memo: vec![None; guards.len()],
            memo: Memo::new(),
            guards,
            filter_memo: vec![None; filters],
            groupby_memo: vec![None; groupbys],
            scenarios,
            clock,
            context: None,
            options: EngineOptions::default(),
            slots: Vec::new(),
            free: Vec::new(),
            routes,
            index: (0..indexes).map(|_| HashMap::new()).collect(),
            timers: BinaryHeap::new(),
            blackholes: (0..n).map(|_| Blackhole::default()).collect(),
            next_id: 0,
            gc_threshold: GC_MIN_BUCKETS,
            watermark: None,
            stats: vec![EngineStats::default(); n],
            pour_dump: None,
            metrics: None,
        }
    }

    /// Publishes the `cs_bucket_*` metrics of every scenario (upstream's names and labels, plus
    /// `cs_bucket_evicted_total`) into `registry`, usually [`cs_metrics::global`].
    #[must_use]
    pub fn with_metrics(mut self, registry: &'static Metrics) -> Self {
        self.metrics = Some(EngineMetrics::new(registry, &self.scenarios));
        self
    }

    /// Adds the alert context (console context) evaluated on each overflow.
    #[must_use]
    pub fn with_alert_context(mut self, context: AlertContext) -> Self {
        self.context = Some(Arc::new(context));
        self
    }

    /// Changes how the engine runs.
    #[must_use]
    pub fn with_options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    /// Records every event offered (under `OK`) and every event poured (under the scenario
    /// name), for upstream's `bucketpour-dump.yaml` (`-dump-data`, hubtest).
    #[must_use]
    pub fn with_pour_dump(mut self) -> Self {
        self.pour_dump = Some(BTreeMap::new());
        self
    }

    /// The pour record collected since the last call (empty unless [`Self::with_pour_dump`]).
    pub fn take_pour_dump(&mut self) -> BTreeMap<String, Vec<Event>> {
        self.pour_dump
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The loaded scenarios, in pour order.
    pub fn scenarios(&self) -> impl Iterator<Item = &Scenario> {
        self.scenarios.iter().map(AsRef::as_ref)
    }

    /// Activity counters of all scenarios together.
    pub fn stats(&self) -> EngineStats {
        let mut total = EngineStats::default();
        for s in &self.stats {
            total.add(s);
        }
        total
    }

    /// Activity counters of each scenario, by name.
    pub fn scenario_stats(&self) -> impl Iterator<Item = (&str, &EngineStats)> {
        self.scenarios.iter().map(|s| s.name()).zip(&self.stats)
    }

    /// Number of bucket instances in memory (including replaced ones whose timer is pending).
    pub fn bucket_count(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Takes over the live buckets of `old` (an engine being replaced on reload) whose scenario
    /// is unchanged: same name, same file content and same rank among the documents of that
    /// name in that file. Their queues, timers and blackholes carry on here; buckets of changed
    /// or removed scenarios are dropped (upstream restarts every bucket on reload). Returns the
    /// number of buckets adopted.
    pub fn adopt_buckets(&mut self, mut old: BucketEngine) -> usize {
        // Scenario identity: (name, hash, rank among the scenarios with that name and hash).
        fn identities(scenarios: &[Arc<Scenario>]) -> Vec<(String, String, usize)> {
            let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
            scenarios
                .iter()
                .map(|s| {
                    let rank = seen.entry((s.name(), s.hash())).or_default();
                    *rank += 1;
                    (s.name().to_owned(), s.hash().to_owned(), *rank)
                })
                .collect()
        }
        let new_ids = identities(&self.scenarios);
        let old_ids = identities(&old.scenarios);
        let mapping: Vec<Option<usize>> = old_ids
            .iter()
            .map(|id| new_ids.iter().position(|n| n == id))
            .collect();
        for (oi, hole) in old.blackholes.iter_mut().enumerate() {
            if let Some(ni) = mapping[oi] {
                self.blackholes[ni] = std::mem::take(hole);
            }
        }
        let mut adopted = 0;
        for slot in 0..old.slots.len() {
            let Some(mut bucket) = old.slots[slot].take() else {
                continue;
            };
            if let Some(m) = &old.metrics {
                m.scenarios[bucket.scenario].live.dec();
            }
            let Some(si) = mapping[bucket.scenario] else {
                continue;
            };
            if bucket.attached {
                // The key's spelling depends on the route (see `Route`): convert it.
                let scenario = &self.scenarios[si];
                let (filter, name) = (scenario.config.filter.as_str(), scenario.name());
                let group = if old.routes[bucket.scenario].whole_key {
                    bucket
                        .key
                        .strip_prefix(filter)
                        .and_then(|k| k.strip_suffix(name))
                        .unwrap_or(&bucket.key)
                        .to_owned()
                } else {
                    bucket.key.to_string()
                };
                let route = self.routes[si];
                let key: Arc<str> = if route.whole_key {
                    Arc::from([filter, group.as_str(), name].concat())
                } else {
                    Arc::from(group)
                };
                if self.index[route.index].contains_key(&key) {
                    continue;
                }
                bucket.key = key;
            }
            self.next_id += 1;
            bucket.id = self.next_id;
            bucket.scenario = si;
            let new_slot = match self.free.pop() {
                Some(free) => free,
                None => {
                    self.slots.push(None);
                    self.slots.len() - 1
                }
            };
            if bucket.attached {
                self.index[self.routes[si].index].insert(Arc::clone(&bucket.key), new_slot);
            }
            if let Some(deadline) = bucket.deadline {
                self.timers.push(Reverse((deadline, bucket.id, new_slot)));
            }
            if let Some(m) = &self.metrics {
                m.scenarios[si].live.inc();
            }
            self.slots[new_slot] = Some(bucket);
            adopted += 1;
        }
        self.watermark = self.watermark.max(old.watermark);
        adopted
    }

    /// The wall clock in UTC, as upstream's `time.Now().UTC()`.
    fn now(&self) -> GoTime {
        wall(&*self.clock)
    }

    /// What other threads may evaluate of the filters ahead of the pour (see
    /// [`BucketEngine::pour_with`]).
    pub fn prefilter(&self) -> Prefilter {
        let mut classes = vec![None; self.filter_memo.len()];
        for (si, &fc) in self.filter_class.iter().enumerate() {
            let scenario = &self.scenarios[si];
            if classes[fc].is_none() && scenario.filter.is_timeless() {
                classes[fc] = Some((self.filter_guard[fc], Arc::clone(scenario)));
            }
        }
        Prefilter::new(classes, self.guards.clone())
    }

    /// [`BucketEngine::pour_shared`] with the answers of this engine's [`Prefilter`] for the
    /// event, which spare evaluating those filters here. The outcome is the same.
    pub fn pour_with(
        &mut self,
        evt: Arc<Event>,
        verdicts: &[Option<bool>],
        out: &mut Vec<Event>,
    ) -> Result<bool> {
        self.pour_inner(evt, Some(verdicts), out)
    }

    /// Pours one event into every scenario whose filter accepts it (`PourItemToHolders`).
    ///
    /// Overflow events (and the alert-less notifications of buckets that died) are appended to
    /// `out`. Returns whether at least one scenario took the event. A filter or groupby runtime
    /// error stops the event for the remaining scenarios, as upstream.
    pub fn pour(&mut self, evt: &Event, out: &mut Vec<Event>) -> Result<bool> {
        self.pour_shared(Arc::new(evt.clone()), out)
    }

    /// [`BucketEngine::pour`] of an event the caller gives away: every bucket it is poured
    /// into holds the same copy.
    pub fn pour_shared(&mut self, evt: Arc<Event>, out: &mut Vec<Event>) -> Result<bool> {
        self.pour_inner(evt, None, out)
    }

    fn pour_inner(
        &mut self,
        mut evt: Arc<Event>,
        verdicts: Option<&[Option<bool>]>,
        out: &mut Vec<Event>,
    ) -> Result<bool> {
        // Filters may change the event (`evt.SetMeta`); later scenarios then see the change,
        // on a copy when buckets already hold the event.
        let mut poured = false;
        if let Some(dump) = &mut self.pour_dump {
            dump.entry("OK".to_owned())
                .or_default()
                .push(Event::clone(&evt));
        }
        match verdicts {
            Some(v) if v.len() == self.filter_memo.len() => self.filter_memo.copy_from_slice(v),
            _ => self.filter_memo.fill(None),
        }
        self.groupby_memo.fill(None);
        self.guard_memo.fill(None);
        self.memo.clear();
        // `MarshaledTime` is read once per event (filters do not change it).
        let time = parse_time(&evt.marshaled_time);
        // The wall clock, read at most once per event.
        let wall_now = OnceCell::new();
        for si in 0..self.scenarios.len() {
            let fc = self.filter_class[si];
            let memo = self.filter_memo[fc];
            let accepted = match memo {
                Some(known) => known,
                None if !self.guard_passes(fc, &evt) => {
                    self.filter_memo[fc] = Some(false);
                    false
                }
                None => match self.scenarios[si]
                    .filter
                    .eval_filter(&mut evt, &mut self.memo)
                {
                    Ok((Outcome::Bool(b), changed)) => {
                        if changed {
                            // Results computed on the event before its change are stale.
                            self.filter_memo.fill(None);
                            self.groupby_memo.fill(None);
                            self.guard_memo.fill(None);
                            self.memo.clear();
                        }
                        self.filter_memo[fc] = Some(b);
                        b
                    }
                    Ok(_) => {
                        return Err(Error::FilterNotBool {
                            scenario: self.scenarios[si].name().to_owned(),
                        });
                    }
                    Err(source) => {
                        return Err(Error::Filter {
                            scenario: self.scenarios[si].name().to_owned(),
                            source,
                        });
                    }
                },
            };
            if !accepted {
                continue;
            }
            let scenario = Arc::clone(&self.scenarios[si]);
            let group = match (&scenario.groupby, self.groupby_class[si]) {
                (Some(expr), Some(gc)) => match &self.groupby_memo[gc] {
                    Some(known) => known.clone(),
                    None => match expr.eval_event(&evt) {
                        Ok(Outcome::Str(s)) => {
                            self.groupby_memo[gc] = Some(s.clone());
                            s
                        }
                        Ok(_) => {
                            return Err(Error::GroupByNotString {
                                scenario: scenario.name().to_owned(),
                            });
                        }
                        Err(source) => {
                            return Err(Error::GroupBy {
                                scenario: scenario.name().to_owned(),
                                source,
                            });
                        }
                    },
                },
                _ => String::new(),
            };
            let slot = self.bucket_for(si, &scenario, group, &evt, time.as_ref());
            // The bucket may have been created by another scenario with the same key: as
            // upstream, its own settings and processors take the event.
            let owner = self.slots[slot].as_ref().map_or(si, |b| b.scenario);
            let scenario = if owner == si {
                scenario
            } else {
                Arc::clone(&self.scenarios[owner])
            };
            if let Some(dump) = &mut self.pour_dump {
                dump.entry(scenario.name().to_owned())
                    .or_default()
                    .push(Event::clone(&evt));
            }
            if let Some(m) = &mut self.metrics {
                m.poured(si, self.scenarios[si].name(), &evt);
            }
            self.process(
                slot,
                &scenario,
                Arc::clone(&evt),
                time.as_ref(),
                &wall_now,
                out,
            );
            poured = true;
        }
        if self.options.garbage_collect && self.bucket_count() >= self.gc_threshold {
            self.collect_garbage();
            self.gc_threshold = GC_MIN_BUCKETS.max(2 * self.bucket_count());
        }
        Ok(poured)
    }

    /// Whether `evt` passes the guard of filter class `fc` (true without a guard): when it
    /// does not, the filter is false.
    fn guard_passes(&mut self, fc: usize, evt: &Event) -> bool {
        let Some(g) = self.filter_guard[fc] else {
            return true;
        };
        if let Some(known) = self.guard_memo[g] {
            return known;
        }
        let passes = self.guards[g].admits_event(evt);
        self.guard_memo[g] = Some(passes);
        passes
    }

    /// The live bucket of `(scenario, group)`'s key, created when missing or expired in log time.
    fn bucket_for(
        &mut self,
        si: usize,
        scenario: &Scenario,
        group: String,
        evt: &Event,
        time: Option<&GoTime>,
    ) -> usize {
        let route = self.routes[si];
        let key = if route.whole_key {
            [
                scenario.config.filter.as_str(),
                group.as_str(),
                scenario.name(),
            ]
            .concat()
        } else {
            group
        };
        let index = route.index;
        if let Some(&slot) = self.index[index].get(key.as_str()) {
            let expired = self.slots[slot].as_ref().is_some_and(|b| {
                if b.mode != ExpectMode::TimeMachine || is_zero(&b.leaky.first_ts) {
                    return false;
                }
                // An unparsable time is Go's zero time, which is never after the deadline.
                let t = time.map_or(i64::MIN, nanos);
                t > nanos(&b.leaky.last_ts).saturating_add(b.lifetime)
            });
            if !expired {
                return slot;
            }
            // Replaced, not destroyed: upstream's goroutine lives on until its wall-clock timer.
            if let Some(b) = self.slots[slot].as_mut() {
                b.attached = false;
            }
            self.index[index].remove(key.as_str());
        }
        let mapkey = if route.whole_key {
            hex_sha1(&[&key])
        } else {
            hex_sha1(&[&scenario.config.filter, &key, scenario.name()])
        };
        let key: Arc<str> = Arc::from(key);
        let slot = self.create(si, scenario, Arc::clone(&key), mapkey, evt.expect_mode);
        self.index[index].insert(key, slot);
        slot
    }

    fn create(
        &mut self,
        si: usize,
        scenario: &Scenario,
        key: Arc<str>,
        mapkey: String,
        mode: ExpectMode,
    ) -> usize {
        self.next_id += 1;
        self.stats[si].instantiated += 1;
        if let Some(m) = &self.metrics {
            m.scenarios[si].created.inc();
            m.scenarios[si].live.inc();
        }
        let (lifetime, timed) = scenario.lifetime();
        let leaky = Leaky {
            name: scenario.name().to_owned(),
            mapkey,
            uuid: format!("{:016x}", self.next_id),
            capacity: scenario.config.capacity,
            leakspeed: std::time::Duration::from_nanos(scenario.leakspeed.max(0).unsigned_abs()),
            duration: std::time::Duration::from_nanos(lifetime.max(0).unsigned_abs()),
            mode: mode.as_int(),
            ..Leaky::default()
        };
        let bucket = Bucket {
            id: self.next_id,
            scenario: si,
            key,
            attached: true,
            mode,
            leaky,
            queue: Queue::new(scenario.queue_size()),
            limiter: Limiter::new(scenario.config.capacity, scenario.leakspeed),
            seen: HashSet::new(),
            guillotines: scenario
                .bayesian
                .as_ref()
                .map_or_else(Vec::new, |b| vec![false; b.conditions.len()]),
            lifetime,
            timed,
            deadline: None,
        };
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(bucket);
                slot
            }
            None => {
                self.slots.push(Some(bucket));
                self.slots.len() - 1
            }
        }
    }

    /// One event through one bucket (`LeakRoutine`'s receive branch).
    fn process(
        &mut self,
        slot: usize,
        scenario: &Scenario,
        evt: Arc<Event>,
        time: Option<&GoTime>,
        wall_now: &OnceCell<GoTime>,
        out: &mut Vec<Event>,
    ) {
        let clock = &*self.clock;
        let Some(bucket) = self.slots[slot].as_mut() else {
            return;
        };
        let si = bucket.scenario;
        if scenario.config.debug {
            // Upstream's per-scenario `debug: true` logs every pour of that scenario.
            tracing::debug!(scenario = scenario.name(), bucket = %bucket.leaky.mapkey, "pouring event");
        }
        match step(
            bucket,
            scenario,
            evt,
            time,
            &|| *wall_now.get_or_init(|| wall(clock)),
            &mut self.stats[si],
            &mut self.watermark,
            &mut self.timers,
            slot,
        ) {
            Step::Done => {}
            Step::Overflow => self.overflow(slot, scenario, true, out),
            Step::Cancel => {
                self.stats[si].canceled += 1;
                if let Some(m) = &self.metrics {
                    m.scenarios[si].canceled.inc();
                }
                if let Some(b) = self.remove(slot) {
                    out.push(notification(b.leaky.mapkey));
                }
            }
        }
    }

    /// Emits the overflow of the bucket in `slot` and destroys it (`Leaky.overflow`).
    /// `stamped` overflows carry `MarshaledTime` (pours do, timed overflows do not).
    fn overflow(&mut self, slot: usize, scenario: &Scenario, stamped: bool, out: &mut Vec<Event>) {
        let Some(bucket) = self.remove(slot) else {
            return;
        };
        self.stats[bucket.scenario].overflowed += 1;
        if let Some(m) = &self.metrics {
            m.scenarios[bucket.scenario].overflowed.inc();
        }
        if scenario.config.debug {
            tracing::debug!(
                scenario = scenario.name(),
                bucket = %bucket.leaky.mapkey,
                events = bucket.leaky.total_count,
                "bucket overflow"
            );
        }
        // OnBucketOverflow processors, scenario-wide: overflow_filter, then blackhole. Without an
        // overflow filter nothing reads the alert before the blackhole decides, so a blackholed
        // overflow skips building it: same outcome, much cheaper under a sustained attack.
        let discarded = match &scenario.overflow_filter {
            None => self.blackholed(scenario, &bucket),
            Some(filter) => {
                let signal = self.build_alert(scenario, &bucket);
                let keep = match filter.eval_overflow_filter(&bucket.queue, &signal, &bucket.leaky)
                {
                    Ok(Outcome::Bool(keep)) => keep,
                    Ok(_) => {
                        tracing::error!(
                            scenario = scenario.name(),
                            "overflow filter returned a non-bool"
                        );
                        true
                    }
                    Err(e) => {
                        tracing::error!(scenario = scenario.name(), error = %e, "failed running overflow filter");
                        true
                    }
                };
                if !keep {
                    tracing::info!(
                        scenario = scenario.name(),
                        "overflow discarded by overflow_filter"
                    );
                }
                let discarded = !keep || self.blackholed(scenario, &bucket);
                if !discarded {
                    emit(signal, &bucket, stamped, out);
                    return;
                }
                true
            }
        };
        let signal = if discarded {
            RuntimeAlert {
                mapkey: bucket.leaky.mapkey.clone(),
                ..RuntimeAlert::default()
            }
        } else {
            self.build_alert(scenario, &bucket)
        };
        emit(signal, &bucket, stamped, out);
    }

    /// The alert of an overflowing bucket; when it cannot be built the overflow is lost, as
    /// upstream, and only the bucket key remains.
    fn build_alert(&self, scenario: &Scenario, bucket: &Bucket) -> RuntimeAlert {
        match alert::build(
            scenario,
            &bucket.leaky,
            &bucket.queue,
            self.context.as_deref(),
        ) {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(scenario = scenario.name(), error = %e, "overflow lost: cannot build its alert");
                RuntimeAlert {
                    mapkey: bucket.leaky.mapkey.clone(),
                    ..RuntimeAlert::default()
                }
            }
        }
    }

    /// The blackhole processor: true when the bucket key overflowed less than `blackhole` ago
    /// (in the bucket's time); otherwise the key is hidden from now on.
    fn blackholed(&mut self, scenario: &Scenario, bucket: &Bucket) -> bool {
        let Some(duration) = scenario.blackhole else {
            return false;
        };
        let hole = &mut self.blackholes[bucket.scenario];
        let at = bucket.leaky.ovflw_ts;
        let key = bucket.leaky.mapkey.as_str();
        let blackholed = hole
            .hidden
            .iter()
            .any(|(k, until)| **k == *key && *until > at);
        hole.hidden.retain(|(_, until)| *until > at);
        if !blackholed {
            hole.hidden.push((
                Arc::from(key),
                at + chrono::TimeDelta::nanoseconds(duration),
            ));
        }
        blackholed
    }

    /// Fires every wall-clock timer due at the clock's current time: counters overflow with
    /// their whole queue, other buckets underflow silently (an alert-less notification).
    pub fn tick(&mut self, out: &mut Vec<Event>) {
        let now = self.now();
        let wall = nanos(&now);
        while let Some(&Reverse((due, id, slot))) = self.timers.peek() {
            if due > wall {
                break;
            }
            self.timers.pop();
            let Some(bucket) = self.slots[slot].as_mut().filter(|b| b.id == id) else {
                continue;
            };
            let Some(deadline) = bucket.deadline else {
                continue;
            };
            if deadline > wall {
                // Reset since this entry was queued: wait for the new deadline.
                self.timers.push(Reverse((deadline, id, slot)));
                continue;
            }
            let si = bucket.scenario;
            if bucket.timed {
                bucket.leaky.ovflw_ts = now;
                let scenario = Arc::clone(&self.scenarios[si]);
                self.overflow(slot, &scenario, false, out);
            } else {
                self.stats[si].underflowed += 1;
                if let Some(m) = &self.metrics {
                    m.scenarios[si].underflowed.inc();
                }
                if let Some(b) = self.remove(slot) {
                    out.push(notification(b.leaky.mapkey));
                }
            }
        }
    }

    /// Drops idle time-machine buckets that cannot produce an alert any more: replaced buckets and
    /// buckets whose log-time lifetime ended before the latest event time seen, unless a wall-clock
    /// timed overflow (counter) is still pending for them. Returns how many were dropped.
    ///
    /// Upstream keeps them until their wall-clock timer fires, which only yields an alert-less
    /// notification; dropping them early keeps memory bounded during fast replays.
    pub fn collect_garbage(&mut self) -> usize {
        let Some(watermark) = self.watermark else {
            return 0;
        };
        let mut dropped = 0;
        for slot in 0..self.slots.len() {
            let idle = self.slots[slot].as_ref().is_some_and(|b| {
                !b.timed
                    && b.mode == ExpectMode::TimeMachine
                    && (!b.attached
                        || nanos(&b.leaky.last_ts).saturating_add(b.lifetime) < watermark)
            });
            if let Some(b) = idle.then(|| self.remove(slot)).flatten() {
                self.stats[b.scenario].evicted += 1;
                if let Some(m) = &self.metrics {
                    m.scenarios[b.scenario].evicted.inc();
                }
                dropped += 1;
            }
        }
        if dropped > 0 {
            // The wall-clock timers of dropped buckets would otherwise stay queued until they
            // come due, which a fast replay never reaches: one heap entry per bucket ever made.
            let slots = &self.slots;
            self.timers.retain(|Reverse((_, id, slot))| {
                slots[*slot].as_ref().is_some_and(|b| b.id == *id)
            });
        }
        dropped
    }

    /// Number of pending wall-clock timers (including stale entries not yet skipped).
    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }

    /// Frees a slot, unlinking it from the index when it is still the live bucket of its key.
    fn remove(&mut self, slot: usize) -> Option<Bucket> {
        let bucket = self.slots.get_mut(slot)?.take()?;
        if let Some(m) = &self.metrics {
            m.scenarios[bucket.scenario].live.dec();
        }
        if bucket.attached {
            self.index[self.routes[bucket.scenario].index].remove(&bucket.key);
        }
        self.free.push(slot);
        Some(bucket)
    }
}

/// Appends the overflow event (`MarshaledTime` set for pours, not for timed overflows).
fn emit(signal: RuntimeAlert, bucket: &Bucket, stamped: bool, out: &mut Vec<Event>) {
    let marshaled_time = if stamped {
        cs_types::format_rfc3339_nano(&bucket.leaky.ovflw_ts)
    } else {
        String::new()
    };
    out.push(Event {
        r#type: EventType::Overflow,
        overflow: signal,
        marshaled_time,
        ..Event::default()
    });
}

/// The wall clock in UTC, as upstream's `time.Now().UTC()`.
fn wall(clock: &dyn Clock) -> GoTime {
    clock.now().to_utc().fixed_offset()
}

/// Runs one event through a bucket's processors and pour, in upstream's order. `now` reads
/// the wall clock, for the steps that need it.
#[allow(clippy::too_many_arguments)]
fn step(
    bucket: &mut Bucket,
    scenario: &Scenario,
    evt: Arc<Event>,
    time: Option<&GoTime>,
    now: &dyn Fn() -> GoTime,
    stats: &mut EngineStats,
    watermark: &mut Option<i64>,
    timers: &mut BinaryHeap<Timer>,
    slot: usize,
) -> Step {
    // OnBucketPour processors, in upstream's order: type, distinct, cancel_on.
    if scenario.kind == BucketKind::Trigger {
        kinds::trigger::pour(&mut bucket.leaky, &mut bucket.queue, bucket.mode, evt, now);
        return Step::Overflow;
    }
    if !is_distinct(scenario, bucket, &evt) {
        return Step::Done;
    }
    if let Some(cancel) = &scenario.cancel_on
        && let Ok(Outcome::Bool(true)) = cancel.eval_event(&evt)
    {
        return Step::Cancel;
    }

    // Pour.
    stats.poured += 1;
    let t = match bucket.mode {
        ExpectMode::Live => Some(now()),
        ExpectMode::TimeMachine => {
            let t = time.copied();
            if t.is_none() {
                tracing::warn!(scenario = scenario.name(), time = %evt.marshaled_time, "event without a usable MarshaledTime cannot be poured in time-machine mode");
            }
            t
        }
    };
    let mut overflow = false;
    // The after-pour processors read the event that was just queued; keep it there when it was.
    let mut pending = Some(evt);
    if let Some(t) = t {
        let tn = nanos(&t);
        if bucket.mode == ExpectMode::TimeMachine {
            *watermark = Some(watermark.map_or(tn, |w| w.max(tn)));
        }
        bucket.leaky.total_count += 1;
        if is_zero(&bucket.leaky.first_ts) {
            bucket.leaky.first_ts = t;
        }
        bucket.leaky.last_ts = t;
        if !(bucket.limiter.allow_at(tn) || scenario.kind == BucketKind::Conditional) {
            bucket.leaky.ovflw_ts = t;
            overflow = true;
        }
        if let Some(evt) = pending.take() {
            bucket.queue.add(evt);
        }
    }
    let Bucket {
        queue,
        leaky,
        guillotines,
        ..
    } = bucket;
    let Some(evt) = pending.as_ref().or(queue.queue.last()) else {
        return if overflow { Step::Overflow } else { Step::Done };
    };

    // AfterBucketPour processors: condition, then bayesian.
    if let Some(condition) = &scenario.condition
        && kinds::conditional::after_pour(scenario.name(), condition, evt, queue, leaky)
    {
        return Step::Overflow;
    }
    if let Some(bayesian) = &scenario.bayesian
        && kinds::bayesian::after_pour(scenario.name(), bayesian, guillotines, evt, queue, leaky)
    {
        return Step::Overflow;
    }

    // Lifetime timer: started by the first event, reset by later ones except for counters.
    if bucket.deadline.is_none() || !bucket.timed {
        let deadline = nanos(&now()).saturating_add(bucket.lifetime);
        let queued = bucket.deadline;
        bucket.deadline = Some(deadline);
        // The heap entry of an earlier start is re-queued lazily when it comes due; only a
        // deadline that moved earlier (a clock set backwards) needs a new entry.
        if queued.is_none_or(|q| deadline < q) {
            timers.push(Reverse((deadline, bucket.id, slot)));
        }
    }
    if overflow { Step::Overflow } else { Step::Done }
}

/// Applies `distinct`: false when the value was already seen, which discards the event (not
/// counted, no timer reset).
fn is_distinct(scenario: &Scenario, bucket: &mut Bucket, evt: &Event) -> bool {
    let Some(expr) = &scenario.distinct else {
        return true;
    };
    let value = match expr.eval_event(evt) {
        Ok(Outcome::Str(s)) => s,
        Ok(_) => String::new(),
        Err(e) => {
            tracing::error!(scenario = scenario.name(), error = %e, "distinct expression failed");
            return true;
        }
    };
    bucket.seen.insert(value)
}

/// Numbers each distinct text (first seen first); `None` entries get no class. Returns the
/// class of every entry and the number of classes.
fn classes<'a>(texts: impl Iterator<Item = Option<&'a str>>) -> (Vec<Option<usize>>, usize) {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let of = texts
        .map(|t| {
            t.map(|t| {
                let next = ids.len();
                *ids.entry(t).or_insert(next)
            })
        })
        .collect();
    (of, ids.len())
}

/// The "bucket is dead" event: an overflow without alert, carrying only the bucket key.
fn notification(mapkey: String) -> Event {
    Event {
        r#type: EventType::Overflow,
        overflow: RuntimeAlert {
            mapkey,
            ..RuntimeAlert::default()
        },
        ..Event::default()
    }
}

/// `hex(sha1(filter ‖ groupby ‖ name))`, the bucket key (`Mapkey`), from its parts. Upstream
/// concatenates them without a separator.
fn hex_sha1(parts: &[&str]) -> String {
    let mut h = Sha1::new();
    for part in parts {
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Parses `MarshaledTime` as Go's `Time.UnmarshalText` (RFC3339) does.
pub(crate) fn parse_time(text: &str) -> Option<GoTime> {
    chrono::DateTime::parse_from_rfc3339(text).ok()
}

/// Nanoseconds since the epoch, saturating outside the `i64` range.
fn nanos(t: &GoTime) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use chrono::{DateTime, TimeDelta};
    use cs_config::SimulationConfig;
    use cs_expr_helpers::Helpers;
    use expect_test::{Expect, expect};

    use super::*;
    use cs_expr::ManualClock;

    use crate::{Compiler, LoadOptions};

    /// Wall clock of the tests: 2026-01-01T00:00:00Z.
    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(
            DateTime::from_timestamp(1_767_225_600, 0)
                .unwrap()
                .fixed_offset(),
        ))
    }

    fn engine(yaml: &str, clock: &Arc<ManualClock>, options: &LoadOptions) -> BucketEngine {
        let compiler = Compiler::new(Helpers::new(), clock.clone());
        let scenarios =
            crate::load_str("test.yaml", yaml, &compiler, options).unwrap_or_else(|e| {
                panic!(
                    "{}",
                    e.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            });
        BucketEngine::new(scenarios, clock.clone())
    }

    /// A log event from `ip`; `at` is its log time (time-machine mode) or `None` (live mode).
    fn log(ip: &str, at: Option<&str>, meta: &[(&str, &str)]) -> Event {
        let mut evt = Event::new_log("line", "file");
        evt.line.labels.insert("type".into(), "testlog".into());
        evt.set_meta("source_ip", ip);
        for (k, v) in meta {
            evt.set_meta(*k, *v);
        }
        if let Some(at) = at {
            evt.marshaled_time = at.to_owned();
            evt.expect_mode = ExpectMode::TimeMachine;
        }
        evt
    }

    /// One line per emitted event: `dead <key prefix>` or the alert's main fields.
    fn summary(out: &[Event]) -> String {
        let mut s = String::new();
        for evt in out {
            let Some(a) = &evt.overflow.alert else {
                writeln!(s, "dead {}", &evt.overflow.mapkey[..8]).unwrap();
                continue;
            };
            let src = a.source.as_ref().unwrap();
            writeln!(
                s,
                "{} {} {}={} count={} {}..{} mt={}",
                a.scenario.as_deref().unwrap(),
                a.message.as_deref().unwrap(),
                src.scope.as_deref().unwrap(),
                src.value.as_deref().unwrap(),
                a.events_count.unwrap(),
                a.start_at.as_deref().unwrap(),
                a.stop_at.as_deref().unwrap(),
                evt.marshaled_time,
            )
            .unwrap();
        }
        s
    }

    const LEAKY: &str = "type: leaky\nname: t/leaky\ndescription: d\nfilter: evt.Line.Labels.type == 'testlog'\n\
        groupby: evt.Meta.source_ip\ncapacity: 1\nleakspeed: 10s\n";

    fn check(yaml: &str, steps: &[(i64, Event)], expected: Expect) -> BucketEngine {
        let clock = clock();
        let mut engine = engine(yaml, &clock, &LoadOptions::default());
        let mut out = Vec::new();
        for (wait_ms, evt) in steps {
            clock.advance(TimeDelta::milliseconds(*wait_ms));
            engine.tick(&mut out);
            engine.pour(evt, &mut out).unwrap();
        }
        expected.assert_eq(&summary(&out));
        engine
    }

    #[test]
    fn live_leaky_uses_the_clock() {
        let e = check(
            LEAKY,
            &[
                (0, log("1.2.3.4", None, &[])),
                (2500, log("1.2.3.4", None, &[])),
                (0, log("5.6.7.8", None, &[])),
            ],
            expect![[r#"
                t/leaky Ip 1.2.3.4 performed 't/leaky' (2 events over 2.5s) at 2026-01-01 00:00:02.5 +0000 UTC Ip=1.2.3.4 count=2 2026-01-01T00:00:00Z..2026-01-01T00:00:02.5Z mt=2026-01-01T00:00:02.5Z
            "#]],
        );
        assert_eq!(
            (
                e.bucket_count(),
                e.stats().instantiated,
                e.stats().overflowed
            ),
            (1, 2, 1)
        );
        let per: Vec<_> = e
            .scenario_stats()
            .map(|(n, s)| (n, s.poured, s.overflowed))
            .collect();
        assert_eq!(per, [("t/leaky", 3, 1)]);
    }

    #[test]
    fn live_bucket_underflows_after_its_lifetime() {
        let clock = clock();
        let mut engine = engine(LEAKY, &clock, &LoadOptions::default());
        let mut out = Vec::new();
        // Lifetime (capacity + 1) × leakspeed = 20s, restarted by each pour.
        engine.pour(&log("1.2.3.4", None, &[]), &mut out).unwrap();
        clock.advance(TimeDelta::seconds(15));
        engine.tick(&mut out);
        engine.pour(&log("1.2.3.4", None, &[]), &mut out).unwrap();
        clock.advance(TimeDelta::seconds(15));
        engine.tick(&mut out);
        assert!(out.is_empty(), "{out:?}");
        clock.advance(TimeDelta::seconds(6));
        engine.tick(&mut out);
        expect![[r#"
            dead 8996af84
        "#]]
        .assert_eq(&summary(&out));
        assert_eq!(
            (
                engine.bucket_count(),
                engine.stats().underflowed,
                engine.stats().poured
            ),
            (0, 1, 2)
        );
    }

    #[test]
    fn counter_overflows_on_the_wall_clock_with_every_event() {
        let counter = "type: counter\nname: t/counter\ndescription: d\nfilter: 'true'\ngroupby: evt.Meta.source_ip\n\
            capacity: -1\nduration: 10s\n";
        let clock = clock();
        let mut engine = engine(counter, &clock, &LoadOptions::default());
        let mut out = Vec::new();
        for s in 0..5 {
            engine
                .pour(
                    &log("1.2.3.4", Some(&format!("2020-01-01T10:00:0{s}Z")), &[]),
                    &mut out,
                )
                .unwrap();
            clock.advance(TimeDelta::seconds(2));
            engine.tick(&mut out);
        }
        // The timer is not reset by later events: it fires 10s after the first one.
        expect![[r#"
            t/counter Ip 1.2.3.4 performed 't/counter' (5 events over 52598h0m10s) at 2020-01-01 10:00:04 +0000 UTC Ip=1.2.3.4 count=5 2020-01-01T10:00:00Z..2026-01-01T00:00:10Z mt=
        "#]]
        .assert_eq(&summary(&out));
    }

    #[test]
    fn time_machine_buckets_expire_in_log_time_and_are_collected() {
        let clock = clock();
        let mut engine = engine(LEAKY, &clock, &LoadOptions::default());
        let mut out = Vec::new();
        engine
            .pour(&log("1.2.3.4", Some("2020-01-01T10:00:00Z"), &[]), &mut out)
            .unwrap();
        // 21s later in log time: past last + (1+1)×10s, so a fresh bucket takes it (no overflow).
        engine
            .pour(&log("1.2.3.4", Some("2020-01-01T10:00:21Z"), &[]), &mut out)
            .unwrap();
        engine
            .pour(&log("5.6.7.8", Some("2020-01-01T10:00:22Z"), &[]), &mut out)
            .unwrap();
        assert!(out.is_empty());
        assert_eq!(
            engine.bucket_count(),
            3,
            "the replaced bucket lives until its wall-clock timer"
        );
        assert_eq!(
            engine.collect_garbage(),
            1,
            "only the replaced bucket is idle"
        );
        engine
            .pour(&log("9.9.9.9", Some("2020-01-01T10:01:00Z"), &[]), &mut out)
            .unwrap();
        assert_eq!(
            engine.collect_garbage(),
            2,
            "both buckets ended before the latest log time"
        );
        assert_eq!((engine.bucket_count(), engine.stats().evicted), (1, 3));
        clock.advance(TimeDelta::seconds(60));
        engine.tick(&mut out);
        expect![[r#"
            dead a03f55a7
        "#]]
        .assert_eq(&summary(&out));
    }

    #[test]
    fn garbage_collection_runs_by_itself_and_bounds_memory() {
        let clock = clock();
        let mut engine = engine(LEAKY, &clock, &LoadOptions::default());
        let mut out = Vec::new();
        // One new IP per second of log time: buckets older than 20s are idle.
        for i in 0..10_000u32 {
            let at = DateTime::from_timestamp(1_577_872_800 + i64::from(i), 0)
                .unwrap()
                .to_rfc3339();
            let ip = format!("10.0.{}.{}", i / 256, i % 256);
            engine.pour(&log(&ip, Some(&at), &[]), &mut out).unwrap();
        }
        assert!(out.is_empty());
        assert!(
            engine.bucket_count() < 4_096,
            "{} buckets kept",
            engine.bucket_count()
        );
        assert_eq!(
            engine.stats().evicted as usize + engine.bucket_count(),
            10_000
        );
        assert!(
            engine.pending_timers() < 8_192,
            "{} timers queued: evicted buckets keep no timer",
            engine.pending_timers()
        );
    }

    /// Alerts (not alert-less notifications) as comparable text.
    fn alerts(out: &[Event]) -> Vec<String> {
        out.iter()
            .filter_map(|e| e.overflow.alert.as_ref())
            .map(|a| {
                format!(
                    "{} {} {} {:?}",
                    a.get_scenario(),
                    a.get_value(),
                    a.get_events_count(),
                    a.stop_at
                )
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Collecting garbage after every pour fires exactly the alerts of an engine that never
        /// collects, for time-ordered replays.
        #[test]
        fn garbage_collection_does_not_change_alerts(
            steps in proptest::collection::vec((0u8..4, 0i64..40, 0i64..3), 1..60)
        ) {
            let yaml = format!("{LEAKY}blackhole: 30s\n---\ntype: counter\nname: t/count\ndescription: d\n\
                filter: 'true'\ngroupby: evt.Meta.source_ip\ncapacity: -1\nduration: 2s\n");
            let (clock_a, clock_b) = (clock(), clock());
            let mut plain = engine(&yaml, &clock_a, &LoadOptions::default())
                .with_options(EngineOptions { garbage_collect: false });
            let mut collected = engine(&yaml, &clock_b, &LoadOptions::default());
            let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
            let mut at = 1_577_872_800i64;
            for (ip, gap, wall) in steps {
                at += gap;
                let when = DateTime::from_timestamp(at, 0).unwrap().to_rfc3339();
                let evt = log(&format!("10.0.0.{ip}"), Some(&when), &[]);
                for (clock, engine, out) in [(&clock_a, &mut plain, &mut out_a), (&clock_b, &mut collected, &mut out_b)] {
                    clock.advance(TimeDelta::seconds(wall));
                    engine.tick(out);
                    engine.pour(&evt, out).unwrap();
                }
                collected.collect_garbage();
            }
            for (clock, engine, out) in [(&clock_a, &mut plain, &mut out_a), (&clock_b, &mut collected, &mut out_b)] {
                clock.advance(TimeDelta::seconds(120));
                engine.tick(out);
            }
            proptest::prop_assert_eq!(alerts(&out_a), alerts(&out_b));
        }
    }

    #[test]
    fn garbage_collection_keeps_pending_counters() {
        let counter = "type: counter\nname: t/counter\ndescription: d\nfilter: 'true'\ngroupby: evt.Meta.source_ip\n\
            capacity: -1\nduration: 1s\n";
        let clock = clock();
        let mut engine = engine(counter, &clock, &LoadOptions::default());
        let mut out = Vec::new();
        engine
            .pour(&log("1.2.3.4", Some("2020-01-01T10:00:00Z"), &[]), &mut out)
            .unwrap();
        engine
            .pour(&log("5.6.7.8", Some("2020-01-01T11:00:00Z"), &[]), &mut out)
            .unwrap();
        assert_eq!(engine.collect_garbage(), 0);
        clock.advance(TimeDelta::seconds(1));
        engine.tick(&mut out);
        assert_eq!(out.iter().filter(|e| e.overflow.alert.is_some()).count(), 2);
    }

    #[test]
    fn filter_side_effects_and_errors() {
        // t/0 and t/b share a guard (`evt.Meta.seen == 'a'`), t/1 and t/m an operand answered
        // by the filters' memo: false before t/a changes the event and true after.
        let yaml = "type: trigger\nname: t/0\ndescription: d\nfilter: evt.Meta.seen == 'a' && true\n---\n\
            type: trigger\nname: t/1\ndescription: d\nfilter: 1 == 1 && evt.Meta.seen == 'a'\n---\n\
            type: trigger\nname: t/a\ndescription: d\nfilter: evt.SetMeta('seen', 'a')\n---\n\
            type: trigger\nname: t/b\ndescription: d\nfilter: evt.Meta.seen == 'a'\n---\n\
            type: trigger\nname: t/m\ndescription: d\nfilter: true && evt.Meta.seen == 'a'\n---\n\
            type: trigger\nname: t/c\ndescription: d\nfilter: evt.Overflow.Alert.Scenario == 'x'\n---\n\
            type: trigger\nname: t/d\ndescription: d\nfilter: 'true'\n";
        let clock = clock();
        let mut engine = engine(yaml, &clock, &LoadOptions::default());
        let mut out = Vec::new();
        let err = engine
            .pour(&log("1.2.3.4", None, &[]), &mut out)
            .unwrap_err();
        assert!(
            err.to_string().starts_with("scenario t/c: filter failed"),
            "{err}"
        );
        let names: Vec<_> = out
            .iter()
            .map(|e| e.overflow.alert.as_ref().unwrap().get_scenario())
            .collect();
        assert_eq!(
            names,
            ["t/a", "t/b", "t/m"],
            "t/d is not reached after the error of t/c"
        );
        let events = out[1].overflow.alert.as_ref().unwrap().events();
        assert_eq!(
            events[0].get_meta("seen"),
            "a",
            "the poured event carries the filter's SetMeta"
        );
    }

    #[test]
    fn alert_fields() {
        let yaml = "type: leaky\nname: t/full\ndescription: d\nfilter: 'true'\ngroupby: evt.Meta.source_ip\n\
            capacity: 1\nleakspeed: 1m\nlabels:\n  remediation: true\nversion: '0.3'\n";
        let clock = clock();
        let options = LoadOptions {
            simulation: SimulationConfig {
                simulation: false,
                exclusions: vec!["t/full".into()],
            },
            ..LoadOptions::default()
        };
        let context = [("target".to_owned(), vec!["evt.Meta.user".to_owned()])]
            .into_iter()
            .collect();
        let compiler = Compiler::new(Helpers::new(), clock.clone());
        let mut engine = engine(yaml, &clock, &options)
            .with_alert_context(AlertContext::compile(&context, 0, &compiler).unwrap());
        let mut out = Vec::new();
        for user in ["root", "admin"] {
            let mut evt = log(
                "1.2.3.4",
                Some("2020-01-01T10:00:00.5+01:00"),
                &[("user", user)],
            );
            evt.enriched.insert("IsoCode".into(), "FR".into());
            evt.enriched.insert("Latitude".into(), "48.5".into());
            evt.set_meta("SourceRange", "1.2.3.0/24");
            engine.pour(&evt, &mut out).unwrap();
        }
        let alert = out[0].overflow.alert.as_ref().unwrap();
        let json = serde_json::to_value(alert.as_ref()).unwrap();
        expect![[r#"
            {
              "capacity": 1,
              "decisions": null,
              "events": [
                {
                  "meta": [
                    {
                      "key": "SourceRange",
                      "value": "1.2.3.0/24"
                    },
                    {
                      "key": "source_ip",
                      "value": "1.2.3.4"
                    },
                    {
                      "key": "user",
                      "value": "root"
                    }
                  ],
                  "timestamp": "2020-01-01T10:00:00.5+01:00"
                },
                {
                  "meta": [
                    {
                      "key": "SourceRange",
                      "value": "1.2.3.0/24"
                    },
                    {
                      "key": "source_ip",
                      "value": "1.2.3.4"
                    },
                    {
                      "key": "user",
                      "value": "admin"
                    }
                  ],
                  "timestamp": "2020-01-01T10:00:00.5+01:00"
                }
              ],
              "events_count": 2,
              "kind": "crowdsec",
              "labels": null,
              "leakspeed": "1m0s",
              "message": "Ip 1.2.3.4 performed 't/full' (2 events over 0s) at 2020-01-01 10:00:00.5 +0100 +0100",
              "meta": [
                {
                  "key": "target",
                  "value": "[\"root\",\"admin\"]"
                }
              ],
              "remediation": true,
              "scenario": "t/full",
              "scenario_hash": "18ca8844a1d948f7729892d0c78083a47ba242133d073aa6115fe35dc48d553c",
              "scenario_version": "0.3",
              "simulated": true,
              "source": {
                "cn": "FR",
                "ip": "1.2.3.4",
                "latitude": 48.5,
                "range": "1.2.3.0/24",
                "scope": "Ip",
                "value": "1.2.3.4"
              },
              "start_at": "2020-01-01T10:00:00.5+01:00",
              "stop_at": "2020-01-01T10:00:00.5+01:00"
            }"#]]
        .assert_eq(&serde_json::to_string_pretty(&json).unwrap());
    }

    #[test]
    fn range_meta_bucket_fed_by_reprocessed_overflows() {
        let yaml = "type: trigger\nname: t/ip\ndescription: d\nfilter: evt.GetType() == 'log'\n\
            groupby: evt.Meta.source_ip\nreprocess: true\nlabels:\n  remediation: true\n---\n\
            type: leaky\nname: t/range\ndescription: d\n\
            filter: evt.GetType() == 'overflow' && evt.Overflow.Alert.Remediation == true\n\
            groupby: evt.Overflow.Alert.Source.Range\ndistinct: evt.Overflow.Alert.Source.IP\n\
            capacity: 2\nleakspeed: 1m\nscope:\n  type: Range\n";
        let clock = clock();
        let mut engine = engine(yaml, &clock, &LoadOptions::default());
        let mut out = Vec::new();
        for ip in ["1.2.3.4", "1.2.3.5", "1.2.3.4", "1.2.3.6"] {
            let mut evt = log(ip, None, &[]);
            evt.set_meta("SourceRange", "1.2.3.0/24");
            engine.pour(&evt, &mut out).unwrap();
            for ovf in std::mem::take(&mut out) {
                if ovf.overflow.reprocess {
                    engine.pour(&ovf, &mut out).unwrap();
                }
                out.push(ovf);
            }
        }
        let ranges: Vec<_> = out
            .iter()
            .filter_map(|e| e.overflow.alert.as_ref())
            .filter(|a| a.get_scenario() == "t/range")
            .collect();
        assert_eq!(
            ranges.len(),
            1,
            "the third distinct IP overflows the range bucket"
        );
        let last = ranges[0];
        expect![[r#"
            Range 1.2.3.0/24 performed 't/range' (3 events over 0s) at 2026-01-01 00:00:00 +0000 UTC"#]]
        .assert_eq(last.message.as_deref().unwrap());
        let src = last.source.as_ref().unwrap();
        assert_eq!((src.ip.as_str(), src.range.as_str()), ("", "1.2.3.0/24"));
    }

    #[test]
    fn custom_scope_and_broken_sources() {
        let yaml = "type: trigger\nname: t/user\ndescription: d\nfilter: 'true'\n\
            scope:\n  type: username\n  expression: evt.Meta.user\n---\n\
            type: trigger\nname: t/ip\ndescription: d\nfilter: 'true'\n";
        check(
            yaml,
            &[
                (0, log("1.2.3.4", None, &[("user", "bob")])),
                (0, log("not-an-ip", None, &[("user", "eve")])),
            ],
            expect![[r#"
                t/user username bob performed 't/user' (1 events over 0s) at 2026-01-01 00:00:00 +0000 UTC username=bob count=1 2026-01-01T00:00:00Z..2026-01-01T00:00:00Z mt=2026-01-01T00:00:00Z
                t/ip Ip 1.2.3.4 performed 't/ip' (1 events over 0s) at 2026-01-01 00:00:00 +0000 UTC Ip=1.2.3.4 count=1 2026-01-01T00:00:00Z..2026-01-01T00:00:00Z mt=2026-01-01T00:00:00Z
                t/user username eve performed 't/user' (1 events over 0s) at 2026-01-01 00:00:00 +0000 UTC username=eve count=1 2026-01-01T00:00:00Z..2026-01-01T00:00:00Z mt=2026-01-01T00:00:00Z
                dead cc84d99a
            "#]],
        );
    }

    #[test]
    fn live_blackhole_uses_the_wall_clock() {
        let yaml = "type: trigger\nname: t/bh\ndescription: d\nfilter: 'true'\ngroupby: evt.Meta.source_ip\nblackhole: 1m\n";
        check(
            yaml,
            &[
                (0, log("1.2.3.4", None, &[])),
                (30_000, log("1.2.3.4", None, &[])),
                (31_000, log("1.2.3.4", None, &[])),
            ],
            expect![[r#"
                t/bh Ip 1.2.3.4 performed 't/bh' (1 events over 0s) at 2026-01-01 00:00:00 +0000 UTC Ip=1.2.3.4 count=1 2026-01-01T00:00:00Z..2026-01-01T00:00:00Z mt=2026-01-01T00:00:00Z
                dead 3a243aee
                t/bh Ip 1.2.3.4 performed 't/bh' (1 events over 0s) at 2026-01-01 00:01:01 +0000 UTC Ip=1.2.3.4 count=1 2026-01-01T00:01:01Z..2026-01-01T00:01:01Z mt=2026-01-01T00:01:01Z
            "#]],
        );
    }

    #[test]
    fn bucket_metrics_follow_the_engine() {
        let registry: &'static Metrics = Box::leak(Box::new(Metrics::default()));
        let yaml = "type: leaky\nname: t/m\ndescription: d\nfilter: 'true'\ngroupby: evt.Meta.source_ip\n\
            capacity: 1\nleakspeed: 10s\ncancel_on: evt.Meta.user == 'ok'\n";
        let clock = clock();
        let mut engine = engine(yaml, &clock, &LoadOptions::default()).with_metrics(registry);
        let mut out = Vec::new();
        let mut evt = log("1.2.3.4", None, &[]);
        evt.line.src = "/var/log/a.log".into();
        evt.line.module = "file".into();
        engine.pour(&evt, &mut out).unwrap();
        engine.pour(&evt, &mut out).unwrap(); // capacity 1: overflow
        engine.pour(&log("5.6.7.8", None, &[]), &mut out).unwrap();
        engine
            .pour(&log("5.6.7.8", None, &[("user", "ok")]), &mut out)
            .unwrap(); // canceled
        engine.pour(&log("9.9.9.9", None, &[]), &mut out).unwrap();
        clock.advance(TimeDelta::seconds(60));
        engine.tick(&mut out); // 9.9.9.9 underflows
        let value = |c: Counter| c.get();
        assert_eq!(value(registry.bucket_created.with(["t/m"])), 3);
        assert_eq!(value(registry.bucket_overflowed.with(["t/m"])), 1);
        assert_eq!(value(registry.bucket_canceled.with(["t/m"])), 1);
        assert_eq!(value(registry.bucket_underflowed.with(["t/m"])), 1);
        assert_eq!(registry.buckets.with(["t/m"]).get(), 0);
        assert_eq!(
            value(
                registry
                    .bucket_poured
                    .with(["/var/log/a.log", "file", "t/m"])
            ),
            2
        );
        assert_eq!(value(registry.bucket_poured.with(["", "file", "t/m"])), 3);
    }

    #[test]
    fn reload_keeps_the_buckets_of_unchanged_scenarios() {
        let kept = "type: leaky\nname: t/kept\ndescription: d\nfilter: 'true'\ngroupby: evt.Meta.source_ip\n\
            capacity: 2\nleakspeed: 1h\n";
        let changed = "type: leaky\nname: t/changed\ndescription: d\nfilter: 'true'\ngroupby: evt.Meta.source_ip\n\
            capacity: 2\nleakspeed: 1h\n";
        let clock = clock();
        let load = |texts: &[(&str, &str)]| {
            let compiler = Compiler::new(Helpers::new(), clock.clone());
            let mut all = Vec::new();
            for (file, text) in texts {
                all.extend(
                    crate::load_str(file, text, &compiler, &LoadOptions::default()).unwrap(),
                );
            }
            BucketEngine::new(all, clock.clone())
        };
        let mut old = load(&[("kept.yaml", kept), ("changed.yaml", changed)]);
        let mut out = Vec::new();
        for ip in ["1.2.3.4", "1.2.3.4", "5.6.7.8"] {
            old.pour(&log(ip, None, &[]), &mut out).unwrap();
        }
        assert!(out.is_empty());
        // The new configuration has t/kept unchanged (listed after a new scenario, so its
        // index moves) and t/changed with another capacity.
        let mut new = load(&[
            (
                "new.yaml",
                "type: trigger\nname: t/new\ndescription: d\nfilter: 'false'\n",
            ),
            ("kept.yaml", kept),
            (
                "changed.yaml",
                &changed.replace("capacity: 2", "capacity: 3"),
            ),
        ]);
        assert_eq!(new.adopt_buckets(old), 2);
        new.pour(&log("1.2.3.4", None, &[]), &mut out).unwrap();
        let names: Vec<_> = out
            .iter()
            .filter_map(|e| e.overflow.alert.as_ref())
            .map(|a| (a.get_scenario(), a.get_events_count()))
            .collect();
        assert_eq!(names, [("t/kept", 3)], "t/kept overflows with its 3 events");
        // The timer of the other adopted bucket (t/kept, 5.6.7.8) came along: it expires on
        // time, like the fresh t/changed bucket.
        assert_eq!(new.bucket_count(), 2);
        clock.advance(TimeDelta::hours(5));
        new.tick(&mut out);
        assert_eq!(new.bucket_count(), 0);
    }

    #[test]
    fn pour_dump_records_offered_and_poured_events() {
        let yaml =
            "type: trigger\nname: t/a\ndescription: d\nfilter: evt.Meta.source_ip == '1.2.3.4'\n";
        let clock = clock();
        let mut engine = engine(yaml, &clock, &LoadOptions::default()).with_pour_dump();
        let mut out = Vec::new();
        for ip in ["1.2.3.4", "5.6.7.8"] {
            engine.pour(&log(ip, None, &[]), &mut out).unwrap();
        }
        let dump = engine.take_pour_dump();
        let counts: Vec<_> = dump.iter().map(|(k, v)| (k.as_str(), v.len())).collect();
        assert_eq!(counts, [("OK", 2), ("t/a", 1)]);
        assert!(engine.take_pour_dump().is_empty());
    }

    #[test]
    fn engine_can_move_to_a_bucket_thread() {
        fn is_send<T: Send>() {}
        is_send::<BucketEngine>();
    }

    /// Two documents of one scenario file: same name, filter and groupby, but only the second
    /// has `distinct` and a larger capacity.
    const TWINS: &str = "type: leaky\nname: t/twin\ndescription: d\nfilter: evt.Meta.kind == 'x'\n\
        groupby: evt.Meta.source_ip\ncapacity: 2\nleakspeed: 1h\n---\n\
        type: leaky\nname: t/twin\ndescription: d\nfilter: \"evt.Meta.kind == 'x'\"\n\
        groupby: evt.Meta.source_ip\ndistinct: evt.Meta.user\ncapacity: 9\nleakspeed: 1h\n";

    #[test]
    fn scenarios_with_the_same_key_pour_into_one_bucket() {
        let clock = clock();
        let mut engine = engine(TWINS, &clock, &LoadOptions::default());
        let mut out = Vec::new();
        for at in ["2020-01-01T10:00:00Z", "2020-01-01T10:00:01Z"] {
            let evt = log("1.2.3.4", Some(at), &[("kind", "x"), ("user", "root")]);
            engine.pour(&evt, &mut out).unwrap();
        }
        // Each event is poured twice into the bucket the first scenario created, which keeps
        // its capacity and has no `distinct`: the third pour overflows. The second scenario then
        // pours the second event into a fresh bucket of its own.
        expect![[r#"
            t/twin Ip 1.2.3.4 performed 't/twin' (3 events over 1s) at 2020-01-01 10:00:01 +0000 UTC Ip=1.2.3.4 count=3 2020-01-01T10:00:00Z..2020-01-01T10:00:01Z mt=2020-01-01T10:00:01Z
        "#]]
        .assert_eq(&summary(&out));
        let key = hex_sha1(&["evt.Meta.kind == 'x'1.2.3.4t/twin"]);
        assert_eq!(out[0].overflow.mapkey, key, "sha1(filter ‖ groupby ‖ name)");
        let per: Vec<_> = engine
            .scenario_stats()
            .map(|(_, s)| (s.instantiated, s.poured, s.overflowed))
            .collect();
        assert_eq!(per, [(1, 3, 1), (1, 1, 0)]);
        // Another source stays apart.
        let evt = log("5.6.7.8", Some("2020-01-01T10:00:02Z"), &[("kind", "x")]);
        engine.pour(&evt, &mut out).unwrap();
        assert_eq!(engine.bucket_count(), 2);
    }

    #[test]
    fn keys_spelled_alike_by_different_filters_share_a_bucket() {
        // `true` ‖ ` 1.2.3.4` ‖ `t/x` and `true ` ‖ `1.2.3.4` ‖ `t/x` are one key upstream.
        let yaml = "type: leaky\nname: t/x\ndescription: d\nfilter: 'true'\ngroupby: evt.Meta.padded\n\
            capacity: 1\nleakspeed: 1h\n---\n\
            type: leaky\nname: t/x\ndescription: d\nfilter: 'true '\ngroupby: evt.Meta.source_ip\n\
            capacity: 1\nleakspeed: 1h\n---\n\
            type: trigger\nname: t/other\ndescription: d\nfilter: 'true'\ngroupby: evt.Meta.source_ip\n";
        let clock = clock();
        let mut engine = engine(yaml, &clock, &LoadOptions::default());
        let routes: Vec<_> = engine.routes.iter().map(|r| r.whole_key).collect();
        assert_eq!(routes, [true, true, false]);
        let mut out = Vec::new();
        let evt = log("1.2.3.4", None, &[("padded", " 1.2.3.4")]);
        engine.pour(&evt, &mut out).unwrap();
        let keys: Vec<_> = out.iter().map(|e| e.overflow.mapkey.as_str()).collect();
        let shared = hex_sha1(&["true 1.2.3.4t/x"]);
        assert_eq!(keys, [&shared, &hex_sha1(&["true1.2.3.4t/other"])]);
        assert_eq!(
            out[0].overflow.alert.as_ref().unwrap().get_events_count(),
            2,
            "both t/x scenarios poured into the capacity-1 bucket"
        );
    }

    #[test]
    fn filters_answered_ahead_give_the_same_pours() {
        // t/kind is timeless and guarded; t/mark changes the event (so only the pour may
        // answer it) and t/marked reads that change; t/clock reads the clock; t/bad fails at
        // run time on events without `n`.
        let yaml = "type: trigger\nname: t/kind\ndescription: d\nfilter: evt.Meta.kind == 'x'\n\
            groupby: evt.Meta.source_ip\n---\n\
            type: trigger\nname: t/mark\ndescription: d\n\
            filter: evt.Meta.kind == 'y' && evt.SetMeta('marked', 'yes')\n\
            groupby: evt.Meta.source_ip\n---\n\
            type: leaky\nname: t/marked\ndescription: d\nfilter: evt.Meta.marked == 'yes'\n\
            groupby: evt.Meta.source_ip\ncapacity: 1\nleakspeed: 1h\n---\n\
            type: trigger\nname: t/clock\ndescription: d\n\
            filter: evt.Meta.kind == 'z' && now().Year() > 2000\ngroupby: evt.Meta.source_ip\n---\n\
            type: trigger\nname: t/bad\ndescription: d\nfilter: evt.Meta.kind == 'w' && int(evt.Meta.n) > 1\n\
            groupby: evt.Meta.source_ip\n";
        let clock = clock();
        let mut plain = engine(yaml, &clock, &LoadOptions::default());
        let mut ahead = engine(yaml, &clock, &LoadOptions::default());
        let prefilter = ahead.prefilter();
        assert_eq!(prefilter.ahead(), 4, "every filter but t/clock's");
        let mut scratch = crate::Scratch::new();
        let events: Vec<Event> = ["x", "y", "y", "z", "w", "other", "x"]
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                let at = format!("2020-01-01T10:00:0{i}Z");
                // One source: the two `y` events overflow t/marked.
                log("10.0.0.1", Some(&at), &[("kind", kind)])
            })
            .collect();
        let (mut want, mut got) = (Vec::new(), Vec::new());
        for evt in &events {
            let verdicts = prefilter.verdicts(evt, &mut scratch);
            let expected = match evt.meta["kind"].as_str() {
                "x" => [Some(true), Some(false), Some(false), None, Some(false)],
                "y" => [Some(false), None, Some(false), None, Some(false)],
                "w" => [Some(false), Some(false), Some(false), None, None],
                _ => [Some(false), Some(false), Some(false), None, Some(false)],
            };
            assert_eq!(*verdicts, expected, "{:?}", evt.meta);
            let a = plain.pour(evt, &mut want).map_err(|e| e.to_string());
            let b = ahead
                .pour_with(Arc::new(evt.clone()), &verdicts, &mut got)
                .map_err(|e| e.to_string());
            assert_eq!(a, b);
        }
        assert_eq!(summary(&got), summary(&want));
        assert!(summary(&want).contains("t/marked"), "{}", summary(&want));
        let stats = |e: &BucketEngine| {
            e.scenario_stats()
                .map(|(n, s)| (n.to_owned(), s.instantiated, s.poured, s.overflowed))
                .collect::<Vec<_>>()
        };
        assert_eq!(stats(&ahead), stats(&plain));
        assert!(crate::Prefilter::rejects_all(&[Some(false), Some(false)]));
        assert!(!crate::Prefilter::rejects_all(&[Some(false), None]));
    }
}
