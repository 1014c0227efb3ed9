"""Local stand-ins for the pipeline's sources (Redshift, HubSpot): the laptop default and the test bed."""
