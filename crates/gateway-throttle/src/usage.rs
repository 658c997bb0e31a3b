//! Usage reports in the shape of AWS's `GetUsage`, and the remaining quota of a key.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::backend::{BackendError, PlanKey, ThrottleBackend};
use crate::limits::Day;

/// The longest range a usage report covers, in days.
pub const MAX_REPORT_DAYS: i64 = 366;

/// Why a usage report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// The range is empty, reversed or too long.
    #[error(
        "the usage range {start} to {end} must run forward and span at most {MAX_REPORT_DAYS} days"
    )]
    Range {
        /// The first day.
        start: Day,
        /// The last day.
        end: Day,
    },
    /// The backend could not be read.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// A plan's usage between two days, per key: `GetUsage`'s response.
///
/// Each key maps to one `[used, remaining]` pair per day from `startDate` to
/// `endDate`: the requests counted that day, and the quota left at the end of it
/// in that day's quota period. A plan without a quota reports `remaining` as 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// The plan.
    pub usage_plan_id: String,
    /// The first day reported.
    pub start_date: Day,
    /// The last day reported.
    pub end_date: Day,
    /// `[used, remaining]` per day, by API key id.
    pub values: BTreeMap<String, Vec<[u64; 2]>>,
}

/// The state of a key's quota in the current period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaStatus {
    /// The plan.
    pub usage_plan_id: String,
    /// The API key id.
    pub key_id: String,
    /// The period's limit.
    pub limit: u64,
    /// Requests counted in the period.
    pub used: u64,
    /// Requests left.
    pub remaining: u64,
    /// The period's first day.
    pub period_start: Day,
    /// The first day of the next period, when the quota resets (00:00 UTC).
    pub resets_on: Day,
}

/// Reports the usage of `keys` (all in one plan) from `start` to `end`.
///
/// # Errors
/// A range that is reversed or longer than [`MAX_REPORT_DAYS`], or a backend that
/// cannot be read.
pub async fn usage(
    backend: &dyn ThrottleBackend,
    plan_id: &str,
    keys: &[PlanKey],
    start: Day,
    end: Day,
) -> Result<Usage, UsageError> {
    if end < start || end.0 - start.0 >= MAX_REPORT_DAYS {
        return Err(UsageError::Range { start, end });
    }
    let mut values = BTreeMap::new();
    for key in keys {
        let plan = key.plan();
        // Read from the start of the first day's quota period, so that `remaining`
        // counts the days of that period before `start`.
        let from = plan.quota.map_or(start, |q| q.period.window(start).0);
        let daily = backend.daily_usage(key, from, end).await?;
        let mut out = Vec::new();
        let mut period: Option<(Day, Day)> = None;
        let mut used_in_period = 0u64;
        let mut day = from;
        for used in daily {
            if let Some(quota) = plan.quota {
                let window = quota.period.window(day);
                if period != Some(window) {
                    period = Some(window);
                    used_in_period = 0;
                }
            }
            used_in_period += used;
            if day >= start {
                let remaining = period
                    .and_then(|(first, _)| plan.quota_limit(first))
                    .map_or(0, |limit| limit.saturating_sub(used_in_period));
                out.push([used, remaining]);
            }
            day = day.next();
        }
        values.insert(key.key_id().to_owned(), out);
    }
    Ok(Usage {
        usage_plan_id: plan_id.to_owned(),
        start_date: start,
        end_date: end,
        values,
    })
}

/// The quota `key` has left in the current period; `None` when its plan has no
/// quota.
///
/// # Errors
/// A backend that cannot be read.
pub async fn remaining_quota(
    backend: &dyn ThrottleBackend,
    key: &PlanKey,
) -> Result<Option<QuotaStatus>, BackendError> {
    let plan = key.plan();
    let Some(quota) = plan.quota else {
        return Ok(None);
    };
    let today = Day::from_epoch_nanos(backend.clock().now_nanos());
    let (start, next) = quota.period.window(today);
    let limit = plan.quota_limit(start).unwrap_or(quota.limit);
    let used: u64 = backend
        .daily_usage(key, start, today)
        .await?
        .into_iter()
        .sum();
    Ok(Some(QuotaStatus {
        usage_plan_id: plan.id.clone(),
        key_id: key.key_id().to_owned(),
        limit,
        used,
        remaining: limit.saturating_sub(used),
        period_start: start,
        resets_on: next,
    }))
}
