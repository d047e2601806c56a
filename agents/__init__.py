"""Mesa agents: city, vendor, investor, residents, regulator."""
