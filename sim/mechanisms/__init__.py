"""Rules of the world that know no agent and no model: lifecycle, procurement, contracts."""
