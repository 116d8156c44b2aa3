"""The parallel merge: one request fans out work units on a queue, each counts itself in a
``parallelMerge`` item, and a stream trigger notices when all are done."""
