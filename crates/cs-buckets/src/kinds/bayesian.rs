//! `bayesian`: Bayes' rule over the scenario's conditions after every pour (upstream's
//! `BayesianBucket` processor), in float32 as upstream.

use cs_types::{Event, Leaky, Queue};

use crate::expr::Outcome;
use crate::scenario::Bayesian;

/// `P(evil | observation)` from the prior and the two likelihoods.
fn update_probability(prior: f32, prob_given_evil: f32, prob_given_benign: f32) -> f32 {
    let numerator = prob_given_evil * prior;
    numerator / (numerator + prob_given_benign * (1.0 - prior))
}

/// Recomputes the posterior from the prior; a `guillotine` condition that fired once in this
/// bucket (`fired`) counts as true without being evaluated again. Errors skip the condition.
/// On a posterior above the threshold, stamps the overflow time and returns true.
pub(crate) fn after_pour(
    scenario: &str,
    bayesian: &Bayesian,
    fired: &mut [bool],
    evt: &Event,
    queue: &Queue,
    leaky: &mut Leaky,
) -> bool {
    let mut posterior = bayesian.prior;
    for (c, fired) in bayesian.conditions.iter().zip(fired.iter_mut()) {
        if c.guillotine && *fired {
            posterior = update_probability(posterior, c.prob_given_evil, c.prob_given_benign);
            continue;
        }
        match c.condition.eval_condition(evt, queue, leaky) {
            Ok(Outcome::Bool(true)) => {
                posterior = update_probability(posterior, c.prob_given_evil, c.prob_given_benign);
                *fired = true;
            }
            Ok(Outcome::Bool(false)) => {
                posterior = update_probability(
                    posterior,
                    1.0 - c.prob_given_evil,
                    1.0 - c.prob_given_benign,
                );
            }
            Ok(_) => tracing::error!(scenario, "bayesian condition returned a non-bool"),
            Err(e) => tracing::error!(scenario, error = %e, "bayesian update failed"),
        }
    }
    if posterior > bayesian.threshold {
        leaky.ovflw_ts = leaky.last_ts;
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(prior: f32, evil: f32, benign: f32, expected: f32) {
        let got = update_probability(prior, evil, benign);
        assert!(
            (got - expected).abs() < 1e-6,
            "U({prior}, {evil}, {benign}) = {got}, want {expected}"
        );
    }

    #[test]
    fn bayes_rule_in_float32() {
        check(0.5, 0.8, 0.2, 0.8);
        check(0.8, 0.1, 0.5, 0.444_444_45);
        check(0.8, 0.9, 0.5, 0.878_048_8);
        check(0.5, 0.2, 0.8, 0.2);
    }
}
