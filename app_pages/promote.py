"""Promote: the gate's verdict under a policy, the report, the reviewer's sign-off, the alias
move, rollback, and the audit chain."""

import streamlit as st

from staging import ui

ui.page_header("Promote", "Moves the registry alias `champion` to the challenger's version, after a sign-off "
                          "that is recorded.")

model = result = policy = verdict = None
with ui.guard():
    box = ui.sandbox()
    ui.chain_state(box.verify_audit())
    model, _, result = ui.run_evidence(box)
    policy = ui.policy_picker(box, model) if result else None
    if result and policy:
        verdict = box.gate(result, policy)
        ui.show_verdict(verdict, result.manifest)
        ui.report_downloads(box, result.manifest, policy)

if result and policy and verdict:  # its own guard: a refused sign-off leaves the rest of the page in place
    with ui.guard():
        manifest = result.manifest
        st.subheader("Sign-off")
        done = ui.move_done(box, manifest)
        if done:
            st.info(ui.escaped(done))
        else:
            with st.form("signoff"):
                reviewer, password = ui.signer_fields(box, "signoff")
                reason = st.text_area("Reason", placeholder="What the evidence shows and why it is enough.")
                override = st.checkbox("Override the gate (failed or not yet)", disabled=verdict.passed,
                                       help="Only with a reason that explains why the failed or undecided checks "
                                            "are acceptable.")
                confirmed = st.checkbox(ui.escaped(f"I confirm: move {model}@champion from v{manifest.champion.version} "
                                        f"to v{manifest.challenger.version}."))
                if st.form_submit_button("Promote the challenger", type="primary"):
                    record = box.promote(result, reviewer, reason, confirmed, override, policy,
                                         credentials=ui.signer(box, reviewer, password))
                    message = f"Promoted: {model}@champion is now v{record.to_version} (audit record {record.id})."
                    warnings = [w for w in (record.tag_error, record.report_error) if w]
                    if warnings:
                        message += " But: " + " ".join(warnings)
                    ui.flash(message, "warning" if warnings else "success")
                    st.rerun()

if model:
    with ui.guard():
        st.subheader("Rollback")
        last = box.last_promotion(model)
        if last is None:
            st.write("No promotion of this model to roll back.")
        else:
            st.text(f"The last promotion moved champion from v{last.from_version} to v{last.to_version} "
                     f"({last.at}, {last.reviewer}).")
            with st.form("rollback"):
                who, password = ui.signer_fields(box, "rollback")
                why = st.text_input("Reason", key="rollback_reason")
                if st.form_submit_button(ui.escaped(f"Roll back to v{last.from_version}")):
                    record = box.rollback(model, who, why, credentials=ui.signer(box, who, password))
                    ui.flash(f"Rolled back: {model}@champion is v{record.to_version} again.")
                    st.rerun()
    with ui.guard():
        audit = box.audit(model)
        if audit:
            st.subheader("Audit log")
            st.dataframe(ui.readable(ui.audit_table(audit)), hide_index=True)
