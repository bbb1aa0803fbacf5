"""The plan (一生一策): one plan per student of concern, written by the school's psychology
teachers, versioned (append-only, any two versions compared), signed off by a school leader
or a district counsellor for orange and red students, reviewed on a date set by the tier, and
the tasks it gives to class teachers, mentors and others."""
