"""Asterisk side: ARI client, AMI client, private-instance manager."""
