"""Counselling notes (辅导记录): a record of each counselling session or contact with a student.

A note is signed and locked by its author when saved, or kept as a draft that only its author
sees and signs within 24 hours; a signed note is never edited again (a correction is an
addendum, 补充说明, that leaves the original visible). A restricted note (保密记录) is read only
by its author and district counsellors; everyone else who may see the student's notes sees that
it exists, who wrote it and when.
"""
