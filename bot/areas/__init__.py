"""Areas: the administrative hierarchy, its census figures and the search residents type into."""
