"""The developers' dashboard: the flows drawn as graphs, every stream live, and the recent dead
letters and step runs. A project serves it with ``path("dashboard/",
include("steps.dashboard.urls"))``; it is for staff only.

``layout`` places the flow graphs (pure geometry), ``view_models`` shapes what the template
shows, ``views`` reads it; the page is ``steps/dashboard.html`` on ``steps/base.html``, its live
part ``steps/dashboard.js`` on the project's JavaScript stream client.
"""
