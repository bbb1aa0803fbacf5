"""The district administrator's pages: schools, classes, accounts and their roles (/admin).

They list what three lower modules own (``orgs``: schools and classes, ``auth``: accounts and
memberships, ``students``: how many students each school and class has), so they sit above
all three; every change still goes through the owner's services.
"""
