"""Call timelines: the recorder that writes what happens on each call, and the view the API and CLI show."""
