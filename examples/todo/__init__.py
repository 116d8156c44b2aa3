"""The todo list of Motia's streaming guide: a ``todo`` stream whose watchers are counted in
``inbox``, and the steps that create, list, complete and delete todos."""
