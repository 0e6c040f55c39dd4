"""Insights: the learning culture measured, over the incidents the viewer can see.

The practice names three costs of a learning culture, all capital expenditure:

- **setup**: training people in incident analysis and in reviews, and the walkthroughs and
  playbacks of narratives, counted once held: person-hours = (attendees + trainer or presenter) ×
  duration, plus the presenter's preparation of a walkthrough or playback;
- **opportunity**: the cost of delay between an improvement as an idea (raised) and in practice
  (done), in days and, where the service carries a cost of delay per day (or the organisation a
  cost of failure per hour, ``COST_OF_FAILURE_PER_HOUR``), in money; open actions accrue it until
  now;
- **run**: the effort of putting improvements into practice (estimated and actual hours per
  action), the hours analysts spent and the review's person-hours.

Scope: the incidents that started in the period (and match the team, severity and operating model
asked for); every figure about them is grouped by team and by the month the incident started, in
the current time zone. Trainings are not about an incident: they follow the period (the day they
were held) and the team only.

Every figure comes from aggregate queries grouped by team and month (a fixed number of queries,
whatever the data); totals, per-team and per-month figures are sums of those groups, and means are
sums divided by counts, so they agree with each other. `Insights.rows` is every figure on the page
as (section, metric, team, month, value, unit): the page's tables and the CSV export are both made
from it.
"""

from reviews.insights.costs import AGE_BANDS, Figure, Insights, insights_for
from reviews.insights.scope import InsightsFilterForm, InsightsScope

__all__ = ["AGE_BANDS", "Figure", "Insights", "InsightsFilterForm", "InsightsScope", "insights_for"]
