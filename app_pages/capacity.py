"""Capacity: how much traffic each model holds within a latency objective, side by side."""

from staging import ui

ui.page_header("Capacity", "Will it hold the peak? Each model alone under an open-loop ramp to the highest rate it "
                           "holds within the latency objective, then a tenfold spike; the same recorded bodies and "
                           "the same limits for both.")

with ui.guard():
    box = ui.sandbox()
    model = ui.current_model()
    if model:
        ui.capacity_form(box, model)
        result = ui.capacity_history(box, model)
        if result is not None:
            ui.capacity_result(result)
