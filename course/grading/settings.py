"""The nbgrader settings ``course autograde`` honours, and the check that refuses the others.

``course autograde`` must grade as ``nbgrader autograde`` would with the same
``nbgrader_config.py``. Most of nbgrader's autograding is nbgrader's own code, run by the
coordinator with nbgrader's configuration: the sanitizing and scoring preprocessors
(``ClearOutput`` ... ``SaveAutoGrades``, ``AssignLatePenalties`` and its penalty plugin,
``LimitOutput``, ``IgnorePattern``, ``ClearHiddenTests``), the gradebook, the copying of
files (``Autograde.init_assignment``) and the permissions (``set_permissions``). Every
setting of those is honoured because nbgrader reads it itself.

What the course's grader does in its own code instead (running the notebook, choosing the
submissions and notebooks, writing ``autograded/``) reads the settings in :data:`SETTINGS`.
Any other setting of those objects that differs from nbgrader's default stops the run with
a :class:`~course.grading.nbgrader_driver.CourseError` naming it: a setting is never
silently graded differently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from course.grading.nbgrader_driver import CourseError

if TYPE_CHECKING:
    from nbgrader.apps import NbGraderAPI

__all__ = ["SETTINGS", "HONOURED", "NO_EFFECT", "SCORES", "Settings", "autograde_settings"]

HONOURED = "honoured"
NO_EFFECT = "no effect on autograding"

# class -> {setting: HONOURED or NO_EFFECT}; a setting of these classes that is not listed
# is refused unless it has nbgrader's default value
SETTINGS = {
    "CourseDirectory": {
        "root": HONOURED,
        "course_id": HONOURED,
        "db_url": HONOURED,
        "groupshared": HONOURED,
        "ignore": HONOURED,
        "student_id_exclude": HONOURED,
        "assignment_id": NO_EFFECT,  # the command names the assignment and the students
        "student_id": NO_EFFECT,
        "include": NO_EFFECT,  # these three filter what the exchange copies, not autograde
        "max_file_size": NO_EFFECT,
        "max_dir_size": NO_EFFECT,
        "solution_directory": NO_EFFECT,
        "source_with_tests_directory": NO_EFFECT,
    },
    "Autograde": {
        "exclude_overwriting": HONOURED,
        "permissions": HONOURED,
        "sanitize_preprocessors": HONOURED,
        "autograde_preprocessors": HONOURED,
        "force": NO_EFFECT,  # `course autograde --force`
    },
    "NotebookExporter": {
        "preprocessors": NO_EFFECT,  # nbgrader replaces them with its own
        "default_preprocessors": NO_EFFECT,
        "enabled": NO_EFFECT,
        "optimistic_validation": NO_EFFECT,
    },
    "Execute": {
        "timeout": HONOURED,  # None included: no per-cell limit
        "kernel_name": HONOURED,  # checked: it must be this environment's Python
        "extra_arguments": HONOURED,  # checked: only the kernel's history and log level
        "startup_timeout": NO_EFFECT,
        "shutdown_kernel": NO_EFFECT,
        "ipython_hist_file": NO_EFFECT,
        "kernel_manager_class": NO_EFFECT,
        "record_timing": NO_EFFECT,  # metadata only
        "store_widget_state": NO_EFFECT,
    },
}

# kernel arguments that change neither what the cells do nor what they print
_HARMLESS_KERNEL_ARGUMENTS = ("--HistoryManager.", "--IPKernelApp.log_level=", "--log-level=")


@dataclass
class Settings:
    """What ``course autograde`` reads from nbgrader's configuration for one assignment.

    Attributes:
        timeout: seconds each cell may run, or None for no limit.
        kernel_name: ``Execute.kernel_name`` ("" when the notebook's kernelspec decides).
        hidden_markers: ``ClearHiddenTests``' begin and end delimiters.
        ignore: ``CourseDirectory.ignore``.
        exclude_overwriting: the source files of this assignment that are not copied over
            the submitted ones.
        student_id_exclude: students never graded.
        converter: nbgrader's ``Autograde`` converter, configured (its ``init_assignment``
            and ``set_permissions`` prepare and finish ``autograded/``).
        before_execution: the preprocessors nbgrader runs before executing (sanitizing,
            then those listed before ``Execute``), as instances.
        after_execution: the preprocessors nbgrader runs after executing, as instances.
        publish: ``ClearHiddenTests``, which removes hidden tests from what is shown.
    """

    timeout: float | None
    kernel_name: str
    hidden_markers: tuple[str, str]
    ignore: list[str]
    exclude_overwriting: list[str]
    student_id_exclude: list[str]
    converter: object
    before_execution: list = field(default_factory=list)
    after_execution: list = field(default_factory=list)
    publish: list = field(default_factory=list)


def _drop_emptied_metadata(nb, resources):
    """Remove the empty nbgrader metadata ``DeduplicateIds`` leaves on a duplicated cell.

    nbgrader itself then crashes in ``OverwriteCells`` (KeyError 'grade_id') and grades
    nothing for that student; without the empty dict the copy is an ordinary cell and the
    original is graded.
    """
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
    return nb, resources


SCORES = "scores"  # where SaveAutoGradesAtOnce leaves a notebook's scores in the resources


def _save_auto_grades_class():
    """nbgrader's ``SaveAutoGrades``, writing one notebook's grades in one transaction.

    nbgrader commits after every cell, and looks each cell's grade (or comment) up with a
    query of its own; here the submitted notebook's grades and comments are read in one query
    each before the cells are processed (the same records: the per-cell lookups find them in
    that read), and a notebook's grades reach the gradebook all together or not at all (an
    interrupted run never leaves a notebook half-graded), with one disk sync instead of
    dozens (and the records it changed written together, at the end). Last, in the same
    transaction, it reads what nbgrader then holds for each graded cell, ``(grade_id, score,
    max_score, needs_manual_grade)`` as nbgrader's gradebook computes them, into
    ``resources["nbgrader"]["scores"]``: the caller needs not read them back.
    """
    from nbgrader.api import BaseCell, Comment, Grade, Gradebook
    from nbgrader.preprocessors import SaveAutoGrades

    class SaveAutoGradesAtOnce(SaveAutoGrades):
        def preprocess(self, nb, resources):
            info = resources["nbgrader"]
            self.notebook_id, self.assignment_id = info["notebook"], info["assignment"]
            self.student_id, self.db_url = info["student"], info["db_url"]
            self.gradebook = Gradebook(self.db_url)
            with self.gradebook:
                gradebook, session = self.gradebook, self.gradebook.db
                submitted = gradebook.find_submission_notebook(
                    self.notebook_id, self.assignment_id, self.student_id
                )

                def by_name(record):
                    query = session.query(record, BaseCell.name).join(
                        BaseCell, BaseCell.id == record.cell_id
                    )
                    found = query.filter(record.notebook_id == submitted.id)
                    return {name: record for record, name in found}

                grades, comments = by_name(Grade), by_name(Comment)
                find_grade, find_comment = gradebook.find_grade, gradebook.find_comment
                gradebook.find_grade = lambda name, *key: grades.get(name) or find_grade(name, *key)
                gradebook.find_comment = lambda name, *key: (
                    comments.get(name) or find_comment(name, *key)
                )
                session.commit = lambda: None  # the per-cell commits wait for the last one
                try:
                    nb, resources = super(SaveAutoGrades, self).preprocess(nb, resources)
                finally:
                    del session.commit
                session.flush()
                columns = (BaseCell.name, Grade.score, Grade.max_score, Grade.needs_manual_grade)
                query = session.query(*columns).join(BaseCell, BaseCell.id == Grade.cell_id)
                info[SCORES] = [
                    tuple(row) for row in query.filter(Grade.notebook_id == submitted.id)
                ]
                session.commit()
            return nb, resources

    return SaveAutoGradesAtOnce


def _refuse(what, value, how="course autograde does not implement it"):
    raise CourseError(
        f"nbgrader_config.py sets {what} = {value!r}, which changes how nbgrader autogrades "
        f"and {how}; remove the setting, or grade this course with `nbgrader autograde`"
    )


def _check(obj, name):
    """Refuse every setting of ``obj`` (reported as ``name``) not in :data:`SETTINGS`."""
    known = SETTINGS[name]
    for trait in sorted(obj.traits(config=True)):
        if trait in known:
            continue
        value = getattr(obj, trait)
        if value != obj.trait_defaults(trait):
            _refuse(f"{name}.{trait}", value)


def _classes(items, what):
    from traitlets.utils.importstring import import_item

    classes = []
    for item in items:
        cls = import_item(item) if isinstance(item, str) else item
        if not isinstance(cls, type):
            _refuse(what, items, "names something that is not a preprocessor class")
        classes.append(cls)
    return classes


def autograde_settings(api: NbGraderAPI, assignment: str) -> Settings:
    """Read and check the settings that decide how ``assignment`` is autograded.

    The objects are built as ``nbgrader autograde`` builds them (the converter, its
    exporter, the preprocessors with the exporter as parent), so that every way of setting
    an option (``Execute.timeout``, ``ExecutePreprocessor.timeout``, ...) counts.

    Args:
        api: the ``NbGraderAPI`` of the course directory.
        assignment: the assignment to grade.

    Returns:
        A :class:`Settings`.

    Raises:
        CourseError: a setting changes grading in a way the engine does not implement.
    """
    from nbconvert.exporters import NotebookExporter
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import ClearHiddenTests, DeduplicateIds, Execute, SaveAutoGrades

    coursedir = api.coursedir
    converter = Autograde(coursedir=coursedir, parent=api)
    for trait in ("exporter_class", "pre_convert_hook", "post_convert_hook", "create_student"):
        value = getattr(converter, trait)
        if value != converter.trait_defaults(trait):
            _refuse(f"Autograde.{trait}", value)
    exporter = NotebookExporter(parent=converter, config=converter.config)
    _check(exporter, "NotebookExporter")
    _check(coursedir, "CourseDirectory")

    sanitize = _classes(converter.sanitize_preprocessors, "Autograde.sanitize_preprocessors")
    steps = _classes(converter.autograde_preprocessors, "Autograde.autograde_preprocessors")
    runs = [cls for cls in steps if issubclass(cls, Execute)]
    if runs != [Execute]:
        _refuse(
            "Autograde.autograde_preprocessors",
            converter.autograde_preprocessors,
            "course autograde needs nbgrader's Execute in it exactly once",
        )
    cut = steps.index(Execute)
    execute = Execute(parent=exporter)
    _check(execute, "Execute")
    for argument in execute.extra_arguments:
        if not argument.startswith(_HARMLESS_KERNEL_ARGUMENTS):
            _refuse("Execute.extra_arguments", execute.extra_arguments)

    def build(classes):
        steps = []
        for cls in classes:
            steps.append(
                (_save_auto_grades_class() if cls is SaveAutoGrades else cls)(parent=exporter)
            )
            if cls is DeduplicateIds:
                steps.append(_drop_emptied_metadata)
        return steps

    hidden = ClearHiddenTests(parent=exporter)
    return Settings(
        timeout=execute.timeout,
        kernel_name=execute.kernel_name,
        hidden_markers=(hidden.begin_test_delimeter, hidden.end_test_delimeter),
        ignore=list(coursedir.ignore),
        exclude_overwriting=list(converter.exclude_overwriting.get(assignment, [])),
        student_id_exclude=[s for s in coursedir.student_id_exclude.split(",") if s],
        converter=converter,
        before_execution=build(sanitize + steps[:cut]),
        after_execution=build(steps[cut + 1 :]),
        publish=[hidden],
    )
