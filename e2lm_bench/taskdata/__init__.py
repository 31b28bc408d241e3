"""Task data: where it comes from (the public sources or a local folder), validated readers, the bundled
sample, the competition's rules for items, and builders that write new data in the tasks' layout."""
