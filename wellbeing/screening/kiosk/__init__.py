"""The kiosk: a device a teacher opens for a queue of students and hands over, and the answers
held for review when a student's answers could not be recorded.

``service`` (open, load, submit and close kiosk sessions), ``held`` (held answers: listed to
the psychology teacher, marked reviewed), ``views`` and ``held_views`` (their routes, on the
screening blueprint). Built on the screening services and the intake.
"""
