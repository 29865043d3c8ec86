"""Code shared by every service: the published contract and the platform it runs on."""
