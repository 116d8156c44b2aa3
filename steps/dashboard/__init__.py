"""The developers' dashboard: the flows drawn as graphs, forms that run a queue or cron step
now, every stream live, the recent dead letters and step runs, and the trace view (what one
trace id caused, in order). A project serves it with ``path("dashboard/",
include("steps.dashboard.urls"))``; it is for staff only.

``layout`` places the flow graphs (pure geometry), ``view_models`` and ``run_forms`` shape what
the overview shows, ``views`` reads it and sends the forms; ``timeline`` (pure) orders a trace,
``trace_views`` reads it and finds traces. The pages are ``steps/dashboard.html`` and
``steps/trace.html`` on ``steps/base.html``; their scripts, ``steps/dashboard.js`` (on the
project's JavaScript stream client) and ``steps/trace.js`` (which follows a trace still going).
"""
