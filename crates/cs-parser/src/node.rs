//! Runtime parser nodes and their evaluation, with upstream's success rules.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cs_types::{Event, EventType};

use crate::enrich::Enrichers;
use crate::expr::{Expr, Output};
use crate::metrics::Counting;
use crate::pipeline::Trace;
use crate::stash::Stash;
use crate::statics::{Static, UnsupportedValue};
use crate::whitelist::IpWhitelist;

/// What node evaluation needs besides the event.
pub(crate) struct RunContext<'a> {
    /// Stage names, in order.
    pub(crate) stages: &'a [Arc<str>],
    /// The stage being evaluated.
    pub(crate) stage: &'a str,
    pub(crate) enrichers: &'a Enrichers,
    /// "Now" for this event (from the injected clock).
    pub(crate) now: DateTime<Utc>,
    /// Where the nodes of the event's (source, type) are counted, when the set counts them.
    pub(crate) counters: Option<Counting<'a>>,
}

/// Where a grok reads its input.
#[derive(Debug)]
pub(crate) enum GrokInput {
    /// `apply_on: Line.Raw`.
    LineRaw,
    /// `apply_on: <key>`: `Parsed[key]`, and the grok fails when the key is absent.
    /// `captured` tells whether the grok has a field of the same name.
    Parsed { key: String, captured: bool },
    /// `expression:`.
    Expr(Expr),
}

/// A node's grok and the statics applied when it matches.
#[derive(Debug)]
pub(crate) struct GrokStep {
    pub(crate) grok: cs_grok::Grok,
    pub(crate) input: GrokInput,
    pub(crate) statics: Vec<Static>,
}

/// A node's whitelist.
#[derive(Debug, Default)]
pub(crate) struct Whitelist {
    pub(crate) reason: String,
    pub(crate) ips: IpWhitelist,
    pub(crate) exprs: Vec<Expr>,
}

impl Whitelist {
    pub(crate) fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.exprs.is_empty()
    }
}

/// A compiled parser node.
#[derive(Debug)]
pub struct Node {
    /// Name (children without one are named `child-<parent>`).
    pub(crate) name: Arc<str>,
    pub(crate) next_stage: bool,
    pub(crate) filter: Option<Expr>,
    pub(crate) whitelist: Whitelist,
    pub(crate) grok: Option<GrokStep>,
    pub(crate) stashes: Vec<Stash>,
    pub(crate) children: Vec<Node>,
    pub(crate) statics: Vec<Static>,
    /// Index of the node's name among the set's node counters.
    pub(crate) metric: usize,
}

/// Event parsing stopped by a static (upstream returns an error and drops the event).
#[derive(Debug)]
pub(crate) struct Abort {
    pub(crate) node: Arc<str>,
    pub(crate) cause: UnsupportedValue,
}

impl Node {
    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the node has `onsuccess: next_stage`.
    pub fn is_next_stage(&self) -> bool {
        self.next_stage
    }

    fn abort(&self, cause: UnsupportedValue) -> Abort {
        Abort {
            node: self.name.clone(),
            cause,
        }
    }

    /// Upstream's `Node.process`: filter, whitelist, grok, stash, children, statics,
    /// stage change. Returns the node's success.
    pub(crate) fn process(
        &self,
        evt: &mut Event,
        cx: &RunContext<'_>,
        mut trace: Option<&mut (dyn Trace + '_)>,
    ) -> Result<bool, Abort> {
        if let Some(filter) = &self.filter {
            match filter.eval(evt) {
                Ok(Output::Bool(true)) => {}
                Ok(_) => return Ok(false),
                Err(e) => {
                    tracing::trace!(node = %self.name, error = %e, "filter failed");
                    return Ok(false);
                }
            }
        }

        let counters = cx.counters.and_then(|c| c.node(self.metric, &self.name));
        if let Some(c) = &counters {
            c.hit();
        }

        let whitelisted = self.check_whitelist(evt);

        let (mut state, has_ok_grok) = match &self.grok {
            None => (true, false),
            Some(step) => {
                let ok = self.run_grok(step, evt);
                if ok {
                    for s in &step.statics {
                        s.apply(evt, cx).map_err(|c| self.abort(c))?;
                    }
                }
                (ok, ok)
            }
        };

        if has_ok_grok || self.grok.is_none() {
            for stash in &self.stashes {
                stash.apply(evt, cx.now);
            }
        }

        for child in &self.children {
            if child.process(evt, cx, trace.as_deref_mut())? {
                state = true;
                if self.next_stage {
                    break;
                }
            } else if !has_ok_grok {
                // Without a matching grok of its own, the node is only as successful as its
                // last evaluated child.
                state = false;
            }
        }

        if !state {
            if let Some(c) = &counters {
                c.ko();
            }
            if let Some(t) = trace {
                t.node_hit(cx.stage, &self.name, evt, false);
            }
            return Ok(false);
        }

        if !self.statics.is_empty() && (whitelisted || self.whitelist.is_empty()) {
            for s in &self.statics {
                s.apply(evt, cx).map_err(|c| self.abort(c))?;
            }
        }

        if self.next_stage
            && let Some(idx) = cx.stages.iter().position(|s| **s == *evt.stage)
            && let Some(next) = cx.stages.get(idx + 1)
        {
            next.as_ref().clone_into(&mut evt.stage);
        }
        if let Some(c) = &counters {
            c.ok();
        }
        if let Some(t) = trace {
            t.node_hit(cx.stage, &self.name, evt, true);
        }
        Ok(true)
    }

    /// IP lists first, then expressions (first true wins; an error stops and counts as
    /// not whitelisted). Marks the event on the first match.
    fn check_whitelist(&self, evt: &mut Event) -> bool {
        if self.whitelist.is_empty() {
            return false;
        }
        let mut hit = self.whitelist.ips.matches(evt);
        if !hit {
            for e in &self.whitelist.exprs {
                match e.eval(evt) {
                    Ok(Output::Bool(true)) => {
                        hit = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::trace!(node = %self.name, error = %err, "whitelist expression failed");
                        return false;
                    }
                }
            }
        }
        if hit && !evt.whitelisted {
            evt.whitelisted = true;
            self.whitelist.reason.clone_into(&mut evt.whitelist_reason);
            if evt.r#type == EventType::Overflow {
                evt.overflow.whitelisted = true;
            }
        }
        hit
    }

    /// Runs the grok and merges its captures into `Parsed`; `false` when it did not match.
    fn run_grok(&self, step: &GrokStep, evt: &mut Event) -> bool {
        let owned: String;
        let input: &str = match &step.input {
            GrokInput::LineRaw => {
                // `Line.Raw` and `Parsed` are distinct fields: borrow one, write the other.
                let Event { line, parsed, .. } = evt;
                return merge_captures(&step.grok, &line.raw, parsed);
            }
            GrokInput::Parsed { key, captured } => {
                // The merge writes `Parsed`: match on the value taken out of it (no copy),
                // then put it back unless the grok captured a field of the same name.
                let Some(slot) = evt.parsed.get_mut(key.as_str()) else {
                    return false;
                };
                let input = std::mem::take(slot);
                let ok = merge_captures(&step.grok, &input, &mut evt.parsed);
                if !(ok && *captured)
                    && let Some(slot) = evt.parsed.get_mut(key.as_str())
                {
                    *slot = input;
                }
                return ok;
            }
            GrokInput::Expr(e) => match e.eval(evt) {
                Ok(Output::Str(s)) => {
                    owned = s;
                    &owned
                }
                Ok(Output::Int(i)) => {
                    owned = i.to_string();
                    &owned
                }
                Ok(Output::Float(f)) => {
                    owned = format!("{f:.6}");
                    &owned
                }
                Ok(_) => "",
                Err(err) => {
                    tracing::trace!(node = %self.name, error = %err, "grok expression failed");
                    return false;
                }
            },
        };
        merge_captures(&step.grok, input, &mut evt.parsed)
    }
}

fn merge_captures(grok: &cs_grok::Grok, input: &str, parsed: &mut cs_types::StrMap) -> bool {
    let Some(caps) = grok.captures(input) else {
        return false;
    };
    if caps.is_empty() {
        return false;
    }
    parsed.merge(caps.iter().map(|(name, value)| (&**name, value)));
    true
}
