"""Referrals to health partners (医教合作转介): from the school's request, through the district
centre, to the hospital's feedback.

* :mod:`.models`: health partners, their working calendars, the referral and its history
  (``ReferralEvent``), appointments and feedback; the states and codes with their labels.
* :mod:`.transitions`: the ONE table of allowed moves with their guards (who may make each:
  the sender, the centre, the addressed partner, or the system on a consent withdrawal).
* :mod:`.consent`: what a referral needs before it goes anywhere (a guardian's consent from
  the contact log, or an emergency override for a red-tier student).
* :mod:`.calendar` and :mod:`.sla`: working time (working days and hours, public holidays and
  调休 make-up working days per partner or district) and the deadlines of each milestone.
* :mod:`.services`: every change (one service call per move; the partner's moves are in
  :mod:`.partner_moves`, the mechanics every move shares in :mod:`.moving`), and the audited
  staff read (``read_referral``); :mod:`.partners` the partner register and calendars;
  :mod:`.notices` who is told of each move (in-app notice + outbox e-mail, no names);
  :mod:`.queries` read-only lookups (the centre's queue, the partner's scope, turnaround
  figures); :mod:`.minimum` the exact minimum dataset a partner may see (and its audited
  reads: the sender's preview, the partner's view); :mod:`.events` ``REFERRAL_MOVED``.
* :mod:`.jobs`: the SLA scan raising ``referral_sla`` alerts.
"""
