"""A SolaraViz page for alliance-sim: step the model and watch its monthly series.

Run it with ``solara run docs/examples/solara_viz.py`` (the browser then loads
Solara's web assets from the internet), or show ``page`` as the last line of a
Jupyter cell. The sliders set parameters by dotted path; Reset builds a new
model with them; Step and Play advance it a month at a time.
"""

from mesa.visualization import Slider, SolaraViz, make_plot_component

from sim import AllianceModel

SMALL = {"world.residents.simulated_agents": 2000}  # a quick page; the default is 20,000

model_params = {
    "scenario": {
        "type": "Select",
        "value": "alliance",
        "values": ["alliance", "traditional"],
        "label": "Design",
    },
    "seed": {"type": "InputText", "value": 1, "label": "Seed"},
    "months": 120,
    "world.rates.shift_bp": Slider("Interest-rate shift (bp)", 0, -100, 300, 25),
    "world.stress.rate_shock_bp": Slider("Rate shock at month 24 (bp)", 0, 0, 400, 50),
    "world.macro.revenue_growth_annual": Slider("Revenue growth a year", 0.025, 0.0, 0.05, 0.005),
    **SMALL,
}

model = AllianceModel("alliance", seed=1, months=120, **SMALL)

page = SolaraViz(
    model,
    components=[
        make_plot_component("central.general_fund"),
        make_plot_component(["coverage.streetlights", "coverage.traffic"]),
        make_plot_component("trust_mean"),
    ],
    model_params=model_params,
    name="alliance-sim: one city, month by month",
)
